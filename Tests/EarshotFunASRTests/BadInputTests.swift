@testable import EarshotFunASR
import Foundation
import Testing

extension FunASRSuite {
    /// Missing or corrupt model files and unusable audio give errors that name the file (and tensor or
    /// key) and say what to do; empty audio is not an error.
    @Suite("FSMN-VAD bad input") struct BadInputTests {
        /// A copy of the model directory in a temporary folder, with `edit` applied.
        static func modelCopy(_ edit: (String) throws -> Void) throws -> String {
            let source = try Assets.vadModel()
            let dir = NSTemporaryDirectory() + "earshot-vad-model-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in FSMNVAD.requiredFiles { try FileManager.default.copyItem(atPath: source + "/" + f, toPath: dir + "/" + f) }
            try edit(dir)
            return dir
        }

        static func loadError(_ dir: String) -> FunASRError? {
            defer { try? FileManager.default.removeItem(atPath: dir) }
            return #expect(throws: FunASRError.self) { try FSMNVAD(directory: dir) }
        }

        @Test("each missing model file is named", arguments: FSMNVAD.requiredFiles)
        func missingFile(_ file: String) throws {
            let e = Self.loadError(try Self.modelCopy { try FileManager.default.removeItem(atPath: $0 + "/" + file) })
            #expect(e?.code == .model)
            #expect(e?.message.contains(file) == true && e?.message.contains("fetch-assets") == true, "\(e?.message ?? "")")
        }

        @Test("truncated model.pt is named")
        func truncatedCheckpoint() throws {
            let e = Self.loadError(try Self.modelCopy { dir in
                let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.pt"))
                try data.prefix(data.count - 4_000).write(to: URL(fileURLWithPath: dir + "/model.pt"))
            })
            #expect(e?.message.contains("model.pt") == true, "\(e?.message ?? "")")
        }

        @Test("a config asking for a tensor the checkpoint lacks names file and tensor")
        func missingTensor() throws {
            let e = Self.loadError(try Self.modelCopy { dir in
                let c = try String(contentsOfFile: dir + "/config.yaml", encoding: .utf8)
                try c.replacingOccurrences(of: "fsmn_layers: 4", with: "fsmn_layers: 5").write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
            })
            #expect(e?.underlying?.code == .missingTensor)
            #expect(e?.message.contains("model.pt") == true && e?.message.contains("encoder.fsmn.4.linear.linear.weight") == true, "\(e?.message ?? "")")
        }

        @Test("a shape that disagrees with config.yaml names the tensor")
        func wrongShape() throws {
            let e = Self.loadError(try Self.modelCopy { dir in
                let c = try String(contentsOfFile: dir + "/config.yaml", encoding: .utf8)
                try c.replacingOccurrences(of: "proj_dim: 128", with: "proj_dim: 64").write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
            })
            #expect(e?.underlying?.code == .shapeMismatch)
            #expect(e?.message.contains("encoder.fsmn.0.linear.linear.weight") == true, "\(e?.message ?? "")")
        }

        @Test("corrupt am.mvn and config.yaml are named")
        func corruptText() throws {
            let mvn = Self.loadError(try Self.modelCopy { try "garbage".write(toFile: $0 + "/am.mvn", atomically: true, encoding: .utf8) })
            #expect(mvn?.message.contains("am.mvn") == true)
            let yaml = Self.loadError(try Self.modelCopy { try "model_conf: [unclosed".write(toFile: $0 + "/config.yaml", atomically: true, encoding: .utf8) })
            #expect(yaml?.message.contains("config.yaml") == true)
            let value = Self.loadError(try Self.modelCopy { dir in
                let c = try String(contentsOfFile: dir + "/config.yaml", encoding: .utf8)
                try c.replacingOccurrences(of: "max_end_silence_time: 800", with: "max_end_silence_time: soon").write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
            })
            #expect(value?.code == .invalidConfiguration && value?.message.contains("max_end_silence_time") == true, "\(value?.message ?? "")")
        }

        @Test("a file that is not audio gives an audio error naming it; an empty WAV gives no segments")
        func audioInput() throws {
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            let text = NSTemporaryDirectory() + "earshot-not-audio-\(UUID().uuidString).wav"
            try "this is not a recording".write(toFile: text, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: text) }
            let e = #expect(throws: FunASRError.self) { try vad.segments(ofFile: text) }
            #expect(e?.code == .audio && e?.message.contains(text) == true, "\(e?.message ?? "")")
            #expect(throws: FunASRError.self) { try vad.segments(ofFile: "/nonexistent/audio.wav") }

            // 44-byte WAV header, 16 kHz mono s16, no samples.
            var wav = Data("RIFF".utf8); wav.append(contentsOf: [36, 0, 0, 0]); wav.append(Data("WAVEfmt ".utf8))
            wav.append(contentsOf: [16, 0, 0, 0, 1, 0, 1, 0, 0x80, 0x3E, 0, 0, 0, 0x7D, 0, 0, 2, 0, 16, 0])
            wav.append(Data("data".utf8)); wav.append(contentsOf: [0, 0, 0, 0])
            let empty = NSTemporaryDirectory() + "earshot-empty-\(UUID().uuidString).wav"
            try wav.write(to: URL(fileURLWithPath: empty))
            defer { try? FileManager.default.removeItem(atPath: empty) }
            #expect(try vad.segments(ofFile: empty).isEmpty)
        }

        @Test("invalid overridden options are rejected")
        func badOptions() throws {
            let vad = try FSMNVAD(directory: try Assets.vadModel())
            var o = vad.options
            o.maxSingleSegmentTime = 0
            #expect(throws: FunASRError.self) { try vad.makeStream(options: o) }
        }
    }
}
