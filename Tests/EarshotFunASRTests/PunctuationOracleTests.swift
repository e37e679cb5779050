@testable import EarshotFunASR
import EarshotSpeech
import Foundation
import Testing

/// The punctuation fixtures (Fixtures/punctuation/, written by scripts/oracle/punctuation_oracle.py with
/// FunASR 1.4.3): three CT-Transformer directories and, per model and text, FunASR's units, ids, model calls
/// (ids, argmax, logits for two texts), `punc_array` and text.
struct PunctuationOracle: Decodable {
    struct Call: Decodable { var ids: [Int]; var argmax: [Int]; var logits: [[Float]]? }
    struct Item: Decodable {
        var key: String
        var input: String
        var tokens: [String]
        var ids: [Int]
        var text: String
        var punc_array: [Int]?
        var calls: [Call]
    }
    var models: [String: [Item]]
    var split_size: Int

    static func directory(_ name: String = "") throws -> String {
        let base = try #require(Bundle.module.resourceURL, "test bundle has no resources")
        return base.appendingPathComponent("Fixtures/punctuation/" + name).path
    }

    static func load() throws -> PunctuationOracle {
        try JSONDecoder().decode(PunctuationOracle.self, from: Data(contentsOf: URL(fileURLWithPath: try directory("oracle.json"))))
    }
}

extension FunASRSuite {
    /// CT-Transformer against FunASR's own inference on the same seeded random weights: units and ids, the
    /// ids of every mini-sentence call (the carry and forced-cut rules), logits, `punc_array` and text.
    @Suite("CT-Transformer punctuation (FunASR oracle)") struct PunctuationOracleTests {
        static let models = ["punc-small", "punc-nostop-small", "punc-template-small"]

        @Test("split_words, ids, model calls, punc_array and text equal FunASR's", arguments: models)
        func matchesFunASR(model: String) throws {
            let oracle = try PunctuationOracle.load()
            let items = try #require(oracle.models[model])
            let ct = try CTTransformer(directory: try PunctuationOracle.directory(model), splitSize: oracle.split_size)
            for item in items {
                let tokens = CTTransformerText.splitWords(item.input)
                #expect(tokens == item.tokens, "\(item.key)")
                #expect(ct.ids(of: tokens) == item.ids, "\(item.key)")
                var calls: [[Int]] = []
                var argmax: [[Int]] = []
                let r = CTTransformerText.punctuate(tokens: tokens, ids: ct.ids(of: tokens), puncList: ct.config.puncList,
                                                    sentenceEndID: ct.config.sentenceEndID, splitSize: oracle.split_size) { ids in
                    calls.append(ids)
                    let c = ct.classes(ids: ids)
                    argmax.append(c)
                    return c
                }
                #expect(calls == item.calls.map(\.ids), "\(model) \(item.key): model calls differ")
                #expect(argmax == item.calls.map(\.argmax), "\(model) \(item.key): classes differ")
                #expect(r.puncArray == item.punc_array, "\(model) \(item.key)")
                #expect(r.text == item.text, "\(model) \(item.key)")
                let p = try ct.punctuate(item.input)
                #expect(p.text == item.text && p.classIDs == item.punc_array && p.tokens == item.tokens)
                #expect(p.marks.count == p.tokens.count)
            }
        }

        @Test("logits within 1e-4 relative of FunASR's punc_forward")
        func logits() throws {
            let oracle = try PunctuationOracle.load()
            let ct = try CTTransformer(directory: try PunctuationOracle.directory("punc-small"))
            var compared = 0
            for item in try #require(oracle.models["punc-small"]) {
                for call in item.calls {
                    guard let want = call.logits else { continue }
                    let got = ct.logits(ids: call.ids)
                    let flat = want.flatMap { $0 }
                    try #require(got.count == flat.count)
                    let scale = flat.map(abs).max() ?? 1
                    let worst = zip(got, flat).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst <= 1e-4 * scale, "\(item.key): max |Δ| \(worst) vs max |logit| \(scale)")
                    compared += flat.count
                }
            }
            #expect(compared > 200)
        }

        @Test("the fixtures exercise the rules: carry, forced cut over 200 units, every class, end of text")
        func coverage() throws {
            let oracle = try PunctuationOracle.load()
            let main = try #require(oracle.models["punc-small"])
            let long = try #require(main.first { $0.key == "long" })
            #expect(long.tokens.count > 200)
            // a carry: some call starts with more than split_size ids
            #expect(long.calls.contains { $0.ids.count > oracle.split_size })
            #expect(Set(main.flatMap { $0.punc_array ?? [] }).isSuperset(of: [1, 2, 3, 4, 5]))
            let nostop = try #require(oracle.models["punc-nostop-small"]?.first { $0.key == "long" })
            #expect(nostop.calls.contains { $0.ids.count > 200 }, "the forced cut needs a call over 200 ids")
            #expect(nostop.punc_array?.dropLast().contains(3) == true, "a forced 。 inside the text")
            // the template's ASCII list: '?' does not end a mini-sentence, so nothing after it is capitalised
            let template = try #require(oracle.models["punc-template-small"]?.first { $0.key == "mixed" })
            #expect(template.text.contains(",") && !template.text.contains("，"))
        }

        @Test("split_words follows Python: whitespace incl. U+3000, ASCII runs, one token per other code point")
        func splitWords() {
            #expect(CTTransformerText.splitWords("我们用iPhone测试\u{3000}ok  it's\t2024年") ==
                    ["我", "们", "用", "iPhone", "测", "试", "ok", "it's", "2024", "年"])
            #expect(CTTransformerText.splitWords("  ") == [])
            #expect(CTTransformerText.splitWords("café") == ["caf", "é"])
            #expect(CTTransformerText.capitalize("iPhone") == "Iphone")
            #expect(CTTransformerText.miniSentences(Array(0..<45), limit: 20).map(\.count) == [20, 20, 5])
            #expect(CTTransformerText.miniSentences(Array(0..<40), limit: 20).map(\.count) == [20, 20])
        }

        @Test("an empty or blank text gives an empty result, as FunASR's")
        func emptyText() throws {
            let ct = try CTTransformer(directory: try PunctuationOracle.directory("punc-small"))
            for text in ["", " \u{3000}\n"] {
                let p = try ct.punctuate(text)
                #expect(p.text == "" && p.tokens.isEmpty && p.classIDs.isEmpty)
            }
        }

        @Test("fp16 and int8 linear layers: logits close to FunASR's fp32, classes nearly all the same",
              arguments: [ParaformerPrecision.float16, .int8])
        func precision(_ precision: ParaformerPrecision) throws {
            let oracle = try PunctuationOracle.load()
            let ct = try CTTransformer(directory: try PunctuationOracle.directory("punc-small"), precision: precision)
            var same = 0, total = 0
            var worst: Float = 0
            for item in try #require(oracle.models["punc-small"]) {
                for call in item.calls {
                    let got = ct.classes(ids: call.ids)
                    same += zip(got, call.argmax).filter { $0 == $1 }.count
                    total += got.count
                    if let want = call.logits {
                        let flat = want.flatMap { $0 }, y = ct.logits(ids: call.ids)
                        let scale = flat.map(abs).max() ?? 1
                        worst = max(worst, zip(y, flat).map { abs($0 - $1) }.max()! / scale)
                    }
                }
            }
            print("punctuation \(precision): \(same)/\(total) classes as FunASR fp32, logits max relative error \(worst)")
            #expect(Double(same) >= 0.97 * Double(total))
            #expect(worst < (precision == .float16 ? 5e-4 : 1e-2))
        }

        static let fullDirectory = Assets.cache + "/models/ct-punc-random"

        @Test("full size (ct-punc-c dimensions, 272,727 tokens): text, punc_array and logits equal FunASR's",
              .enabled(if: FileManager.default.fileExists(atPath: fullDirectory + "/oracle.json"),
                       "written to the cache by punctuation_oracle.py --full (295 MB, not committed)"))
        func fullSize() throws {
            let oracle = try JSONDecoder().decode(PunctuationOracle.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fullDirectory + "/oracle.json")))
            let ct = try CTTransformer(directory: Self.fullDirectory + "/ct-punc")
            #expect(ct.tokenList.count == 272_727 && ct.config.encoder.outputSize == 256 && ct.config.encoder.numBlocks == 4)
            var worst: Float = 0
            for item in try #require(oracle.models["ct-punc"]) {
                let p = try ct.punctuate(item.input)
                #expect(p.text == item.text && p.classIDs == item.punc_array, "\(item.key)")
                for call in item.calls {
                    #expect(ct.classes(ids: call.ids) == call.argmax, "\(item.key)")
                    guard let want = call.logits else { continue }
                    let flat = want.flatMap { $0 }, y = ct.logits(ids: call.ids)
                    worst = max(worst, zip(y, flat).map { abs($0 - $1) }.max()! / (flat.map(abs).max() ?? 1))
                }
            }
            print("punctuation full size: logits max relative error \(worst)")
            #expect(worst <= 1e-4)
        }

        struct SentenceCases: Decodable {
            struct Join: Decodable { var texts: [String]; var joined: String }
            struct Merge: Decodable { var words: [String]; var timestamps: [[Int]]; var tokens: [String]; var merged: [[Int]]? }
            struct Sentence: Decodable { var text: String; var start: Int; var end: Int }
            struct Case: Decodable { var punc: [Int]; var timestamps: [[Int]]; var tokens: [String]; var result: [Sentence] }
            var joins: [Join]
            var merges: [Merge]
            var sentences: [Case]
        }

        @Test("joining segment texts, unit times and sentence_info equal FunASR's helpers (sentences.json)")
        func sentenceHelpers() throws {
            let cases = try JSONDecoder().decode(SentenceCases.self, from: Data(contentsOf: URL(fileURLWithPath: try PunctuationOracle.directory("sentences.json"))))
            for j in cases.joins { #expect(PunctuatedSentences.joinSegmentTexts(j.texts) == j.joined) }
            for m in cases.merges {
                #expect(PunctuatedSentences.mergeUnits(tokens: m.tokens, words: m.words, timestamps: m.timestamps) == m.merged)
            }
            for c in cases.sentences {
                let got = PunctuatedSentences.sentences(tokens: c.tokens, classIDs: c.punc, timestamps: c.timestamps)
                #expect(got.map(\.text) == c.result.map(\.text))
                #expect(got.map(\.start) == c.result.map(\.start) && got.map(\.end) == c.result.map(\.end))
            }
            // Units after the last mark: FunASR's timestamp_sentence drops them; here they form a last sentence.
            let tail = PunctuatedSentences.sentences(tokens: ["a", "b", "c"], classIDs: [1, 3, 1], timestamps: [[0, 1], [1, 2], [2, 3]])
            #expect(tail.map(\.text) == [" a b。", " c"])
        }
    }
}
