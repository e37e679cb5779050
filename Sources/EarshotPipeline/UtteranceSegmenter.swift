import Foundation
import EarshotWhisper

/// Turns what Whisper returned for one packed window into segments on the recording's timeline, one per
/// utterance: a segment ends at every boundary between the window's pieces (pieces are separate stretches
/// of speech) and, inside a piece whose text spans more than `maxSentenceSpan` seconds, after every
/// sentence end (`.` `?` `!`).
///
/// Each word goes to the piece that holds its midpoint (the nearest piece when the midpoint falls in
/// inserted silence; never an earlier piece than the previous word's, so segments stay in order); word
/// times are mapped through the window's `WindowTimeMap` and clamped to the word's piece. An utterance
/// starts where the VAD found its speech start and ends at its speech end (when a VAD ran): on short
/// utterances, Whisper's first-word starts after a cut lag the speech by ~0.25 s (tiny.en), while FSMN-VAD's
/// edges are within ~0.15 s; segment edges inside a piece (sentence ends) come from the words.
/// Whisper's segments without words (word timings not asked for, or not available) are mapped as a
/// whole: one segment per window when decoding without timestamps, from the first piece's speech start
/// (its start without a VAD) to the last piece's speech end.
struct UtteranceSegmenter {
    /// A piece's text longer than this (seconds) is also cut at sentence ends.
    var maxSentenceSpan: Double = 15
    /// Keep each output segment's words (mapped to the recording); `nil` otherwise.
    var keepWords = false
    /// Token ids for a split segment's text (Whisper's tokens belong to the whole window).
    var tokenize: (String) -> [Int] = { _ in [] }

    /// - Parameters:
    ///   - results: Whisper's segments for the window, times relative to the window's start.
    ///   - map: the window's time map.
    func segments(from results: [TranscriptSegment], map: WindowTimeMap) -> [TranscriptSegment] {
        guard !map.pieces.isEmpty else { return [] }
        let seek = Int((map.recordingStart * 100).rounded())
        // Pieces per word over the whole window (monotone across Whisper's segments too), so that only
        // a piece's first and last utterance take its speech edges.
        let wordLists = results.map { $0.words ?? [] }
        let allPieces = pieceIndices(wordLists.flatMap { $0 }, map: map)
        var piecesPerResult: [[Int]] = []
        for list in wordLists {
            let offset = piecesPerResult.reduce(0) { $0 + $1.count }
            piecesPerResult.append(Array(allPieces[offset..<(offset + list.count)]))
        }
        var out: [TranscriptSegment] = []
        for (index, result) in results.enumerated() {
            guard let words = result.words, !words.isEmpty else {
                var segment = result
                segment.seek = seek
                if results.count == 1 {
                    segment.start = map.speechSeconds(piece: 0)?.start ?? map.recordingStart
                    segment.end = map.speechSeconds(piece: map.pieces.count - 1)?.end ?? map.recordingEnd
                } else {
                    segment.start = map.recordingTime(result.start)
                    segment.end = max(segment.start, map.recordingTime(result.end, isEnd: true))
                }
                segment.words = keepWords ? segment.words.map { mapWords($0, map: map) } : nil
                out.append(segment)
                continue
            }
            let earlier = Set(piecesPerResult[..<index].joined())
            let later = Set(piecesPerResult[(index + 1)...].joined())
            for (group, start, end) in utterances(words, pieces: piecesPerResult[index], map: map,
                                                  earlier: earlier, later: later) {
                let text = group.map(\.word).joined()
                var segment = result
                segment.seek = seek
                segment.start = start
                segment.end = max(start, end)
                segment.text = text
                segment.tokens = results.count == 1 && group.count == words.count ? result.tokens : tokenize(text)
                segment.words = keepWords ? group : nil
                out.append(segment)
            }
        }
        return out
    }

    /// The piece of each word, monotone in window order.
    func pieceIndices(_ words: [WordTiming], map: WindowTimeMap) -> [Int] {
        var previous = 0
        return words.map { word in
            let index = max(previous, map.pieceIndex(at: (word.start + word.end) / 2))
            previous = index
            return index
        }
    }

    /// Words mapped to the recording and grouped into utterances, each with its start and end: the
    /// piece's speech edges where the VAD gave them (unless words of an `earlier` or `later` Whisper
    /// segment share the piece), the words' otherwise.
    func utterances(_ words: [WordTiming], pieces: [Int], map: WindowTimeMap, earlier: Set<Int> = [],
                    later: Set<Int> = []) -> [(words: [WordTiming], start: Double, end: Double)] {
        var groups: [(words: [WordTiming], start: Double, end: Double)] = []
        var current: [WordTiming] = []
        var currentPiece = -1
        func close() {
            guard !current.isEmpty else { return }
            let sentences = splitSentences(current)
            let speech = map.speechSeconds(piece: currentPiece)
            let opens = !earlier.contains(currentPiece), closes = !later.contains(currentPiece)
            for (i, sentence) in sentences.enumerated() {
                let start = i == 0 && opens ? speech?.start ?? sentence.first!.start : sentence.first!.start
                let end = i == sentences.count - 1 && closes ? speech?.end ?? sentence.last!.end : sentence.last!.end
                groups.append((sentence, start, end))
            }
            current = []
        }
        for (word, piece) in zip(words, pieces) {
            if piece != currentPiece { close(); currentPiece = piece }
            var mapped = word
            mapped.start = map.recordingTime(word.start, piece: piece)
            mapped.end = max(mapped.start, map.recordingTime(word.end, piece: piece))
            current.append(mapped)
        }
        close()
        return groups
    }

    /// Cuts one piece's words after each sentence end when they span more than `maxSentenceSpan`.
    func splitSentences(_ words: [WordTiming]) -> [[WordTiming]] {
        guard let first = words.first, let last = words.last, last.end - first.start > maxSentenceSpan else {
            return [words]
        }
        var groups: [[WordTiming]] = []
        var current: [WordTiming] = []
        for word in words {
            current.append(word)
            let trimmed = word.word.trimmingCharacters(in: .whitespaces)
            if let mark = trimmed.last(where: { !"\"')]".contains($0) }), ".?!".contains(mark) {
                groups.append(current)
                current = []
            }
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// Words of a segment that was not split, mapped through the pieces that hold them.
    func mapWords(_ words: [WordTiming], map: WindowTimeMap) -> [WordTiming] {
        zip(words, pieceIndices(words, map: map)).map { word, piece in
            var mapped = word
            mapped.start = map.recordingTime(word.start, piece: piece)
            mapped.end = max(mapped.start, map.recordingTime(word.end, piece: piece))
            return mapped
        }
    }
}
