extension WhisperTokenizer {
    /// Tokens to suppress so the model does not write speaker tags or non-speech annotations (♪♪♪,
    /// "( SPEAKING FOREIGN LANGUAGE )", "[DAVID] Hey"), while keeping ordinary punctuation. Same rule and
    /// result as faster-whisper's `Tokenizer.non_speech_tokens`: a symbol is suppressed when it (or it with a
    /// leading space) is a single token; for the musical symbols U+2669–U+266F the first token is suppressed
    /// even when they take several; " -" and " '" are always suppressed. Sorted ascending.
    public var nonSpeechTokens: [Int] {
        var symbols = "\"#()*+/:;<=>@[\\]^_`{|}~「」『』".map { String($0) }
        symbols += "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split(separator: " ").map(String.init)
        let miscellaneous = "♩♪♫♬♭♮♯".map { String($0) }
        var result = Set<Int>()
        if let dash = encode(" -").first { result.insert(dash) }
        if let quote = encode(" '").first { result.insert(quote) }
        for symbol in symbols + miscellaneous {
            let isMisc = miscellaneous.contains(symbol)
            for tokens in [encode(symbol), encode(" " + symbol)] where tokens.count == 1 || (isMisc && !tokens.isEmpty) {
                result.insert(tokens[0])
            }
        }
        return result.sorted()
    }
}
