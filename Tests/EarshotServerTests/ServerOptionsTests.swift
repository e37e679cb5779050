import Testing
@testable import EarshotServer

@Suite struct ServerOptionsTests {
    @Test func defaultsBindLoopback() {
        #expect(ServerOptions().host == "127.0.0.1")
    }
}
