import Foundation
import Testing
@testable import EarshotText

@Suite("Text normalisation")
struct TextNormalizerTests {
    let english = EnglishTextNormalizer()

    @Test("English: case, punctuation, brackets, whitespace", arguments: [
        ("Hello, World!", "hello world"),
        ("  Hello\t\tworld \n again ", "hello world again"),
        ("[MUSIC] So (laughs) it begins <unk>.", "so it begins"),
        ("(Nested (brackets) here) kept", "kept"),
        ("well-known co-operation", "well known co operation"),
        ("“Quoted” — and ‘single’…", "quoted and single"),
        ("Uh, I think, um, yes. Hmm.", "i think yes"),
        ("ＦＵＬＬ　ｗｉｄｔｈ", "full width"),
    ])
    func englishBasics(_ input: String, _ expected: String) {
        #expect(english.normalize(input) == expected)
    }

    @Test("English: titles, contractions, apostrophes, diacritics", arguments: [
        ("Mr. Dashwood and Mrs. Jennings", "mister dashwood and missus jennings"),
        ("Mr Dashwood met Dr Watson at St. Paul's", "mister dashwood met doctor watson at saint pauls"),
        ("I met the mr.", "i met the mr"),
        ("I don't know, we can't, they won't", "i do not know we can not they will not"),
        ("I'm sure you'll see they've gone; we'd stay. Let's go", "i am sure you will see they have gone we would stay let us go"),
        ("Dashwood's estate; rock'n'roll", "dashwoods estate rocknroll"),
        ("Café naïve Zoë", "cafe naive zoe"),
    ])
    func englishWords(_ input: String, _ expected: String) {
        #expect(english.normalize(input) == expected)
    }

    @Test("English: numbers and symbols", arguments: [
        ("1,000,000 people", "1000000 people"),
        ("pi is 3.14159.", "pi is 3.14159"),
        ("50% off, $5 or £4,000", "50 percent off 5 or 4000"),
        ("33-4-692", "33 4 692"),
        ("Go forward 10 meters.", "go forward 10 meters"),
        ("ten vs 10", "ten vs 10"),  // spelled-out numbers are deliberately not converted
    ])
    func englishNumbers(_ input: String, _ expected: String) {
        #expect(english.normalize(input) == expected)
    }

    @Test("Basic normaliser", arguments: [
        ("欢迎大家，来体验达摩院推出的语音识别模型。", "欢迎大家 来体验达摩院推出的语音识别模型"),
        ("Bonjour, le Monde! [rires]", "bonjour le monde"),
        ("Ça va? Très bien.", "ça va très bien"),
        ("नमस्ते दुनिया", "नमस्ते दुनिया"),
        ("ＡＢＣ！", "abc"),
    ])
    func basic(_ input: String, _ expected: String) {
        #expect(BasicTextNormalizer().normalize(input) == expected)
    }

    @Test("Basic normaliser can remove diacritics")
    func basicDiacritics() {
        #expect(BasicTextNormalizer(removeDiacritics: true).normalize("Ça va? Très bien.") == "ca va tres bien")
    }
}

@Suite("Word and character error rates")
struct WordErrorRateTests {
    @Test("identical, all substitutions, deletions, insertions")
    func basics() {
        let same = WordErrorRate(reference: "the cat sat", hypothesis: "The cat sat.")
        #expect(same == WordErrorRate(substitutions: 0, deletions: 0, insertions: 0, referenceCount: 3))
        #expect(same.wer == 0)

        let sub = WordErrorRate(reference: "the cat sat on the mat", hypothesis: "the dog sat on the mat")
        #expect(sub.substitutions == 1 && sub.deletions == 0 && sub.insertions == 0 && sub.referenceCount == 6)
        #expect(abs(sub.wer - 1.0 / 6.0) < 1e-12)

        let del = WordErrorRate(reference: "the cat sat on the mat", hypothesis: "the cat on mat")
        #expect(del.substitutions == 0 && del.deletions == 2 && del.insertions == 0)

        let ins = WordErrorRate(reference: "the cat sat", hypothesis: "oh the big cat sat down")
        #expect(ins.substitutions == 0 && ins.deletions == 0 && ins.insertions == 3)
        #expect(ins.wer == 1.0)

        // Hand-aligned: ref "a b c d e", hyp "a x c e f": b→x (S), d deleted (D), f inserted (I).
        let mixed = WordErrorRate(reference: ["a", "b", "c", "d", "e"], hypothesis: ["a", "x", "c", "e", "f"])
        #expect(mixed.errors == 3 && mixed.referenceCount == 5)
        #expect(abs(mixed.wer - 0.6) < 1e-12)
    }

    @Test("empty sides")
    func empty() {
        #expect(WordErrorRate(reference: "", hypothesis: "").wer == 0)
        let onlyInsertions = WordErrorRate(reference: "", hypothesis: "two words")
        #expect(onlyInsertions.insertions == 2 && onlyInsertions.wer == 2)
        let allDeleted = WordErrorRate(reference: "two words", hypothesis: "[MUSIC]")
        #expect(allDeleted.deletions == 2 && allDeleted.wer == 1)
    }

    @Test("normalisation makes Mr./mister and punctuation free")
    func normalised() {
        let w = WordErrorRate(reference: "MR. DASHWOOD'S estate, of 1,000 acres",
                              hypothesis: "Mister Dashwood's estate of 1000 acres.")
        #expect(w.errors == 0)
    }

    @Test("aggregation and description")
    func aggregate() {
        let a = WordErrorRate(reference: "a b c d", hypothesis: "a b c x")
        let b = WordErrorRate(reference: "e f g h", hypothesis: "e f g h i")
        let total = a + b
        #expect(total == WordErrorRate(substitutions: 1, deletions: 0, insertions: 1, referenceCount: 8))
        #expect(total.wer == 0.25)
        #expect(total.description == "WER 25.0% (S 1, D 0, I 1, N 8)")
    }

    @Test("character error rate for Mandarin")
    func cer() {
        let ref = "欢迎大家来体验达摩院推出的语音识别模型"
        #expect(WordErrorRate.characterErrorRate(reference: ref, hypothesis: "欢迎大家来体验达摩院推出的语音识别模型。").errors == 0)
        // 肯德基 vs 肯德雞 and 获刑 vs 獲行: three substituted characters out of 15.
        let c = WordErrorRate.characterErrorRate(reference: "大学生利用漏洞免费吃肯德基获刑", hypothesis: "大学生利用漏洞免费吃肯德雞獲行")
        #expect(c.substitutions == 3 && c.deletions == 0 && c.insertions == 0 && c.referenceCount == 15)
        #expect(abs(c.wer - 0.2) < 1e-12)
        let d = WordErrorRate.characterErrorRate(reference: "语音 识别", hypothesis: "语音识别模型")
        #expect(d.referenceCount == 4 && d.insertions == 2 && d.errors == 2)
    }

    @Test("word diff count between hypotheses")
    func diff() {
        #expect(wordDiffCount("Go forward ten meters.", "go forward ten meters") == 0)
        #expect(wordDiffCount("go forward ten meters", "go forward 10 meters") == 1)
        #expect(wordDiffCount("a b c", "a c d e") == 3)
        #expect(wordDiffCount("a c d e", "a b c") == 3)
        #expect(WordErrorRate.wordDiffCount("x y", "x y", normalizer: BasicTextNormalizer()) == 0)
    }

    struct JiwerCase: Decodable {
        let reference: [String], hypothesis: [String]
        let substitutions: Int, deletions: Int, insertions: Int
        let wer: Double
    }

    @Test("edit distance and WER agree with jiwer on 200 random pairs")
    func jiwer() throws {
        let url = try #require(Bundle.module.url(forResource: "wer-jiwer", withExtension: "json", subdirectory: "Fixtures"))
        struct File: Decodable { let cases: [JiwerCase] }
        let cases = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
        #expect(cases.count == 200)
        var sameSplit = 0
        for c in cases {
            let w = WordErrorRate(reference: c.reference, hypothesis: c.hypothesis)
            #expect(w.errors == c.substitutions + c.deletions + c.insertions, "\(c.reference) / \(c.hypothesis)")
            #expect(abs(w.wer - c.wer) < 1e-9)
            // Every optimal alignment has deletions − insertions = |ref| − |hyp|.
            #expect(w.deletions - w.insertions == c.reference.count - c.hypothesis.count)
            if w.substitutions == c.substitutions { sameSplit += 1 }
        }
        #expect(sameSplit > 150, "S/D/I split differs from jiwer's in \(200 - sameSplit) cases")
    }
}
