#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The mutable state behind ``PrefixBeamSearch`` (Coqui's `DecoderState`): the prefix trie, the
/// timestep history, the current beam, and scratch buffers reused from frame to frame.
///
/// ``PrefixBeamSearch`` keeps one instance and copies it before mutating when it is shared
/// (copy-on-write), so the class is only ever mutated through a unique reference.
///
/// How one frame maps onto the reference (`DecoderState::next`):
/// 1. ``PrunedLogProbabilities`` gives the classes in visiting order.
/// 2. ``extendPrefixes(_:beamCount:time:)`` is the double loop "for each class, for each beam
///    prefix": blank and repeated-label paths stay in the prefix, other paths extend it.
/// 3. ``collectCandidates(_:time:)`` is `iterate_to_vec`: a post-order walk that closes the
///    frame for every existing prefix and lists it.
/// 4. ``prune(_:time:beamCount:)`` is `nth_element` + `remove()`.
///
/// Two optimisations keep this fast without changing any result:
/// - Every beam prefix gets a child for every non-blank class in every frame, almost all of
///   which are pruned at once. A child created in a frame receives exactly one contribution in
///   that frame (from its parent), so its score is a function of the parent's state at the
///   start of the frame and the class. Without a scorer these children are therefore not
///   created in step 2 but listed directly in step 3, and only the survivors become trie nodes.
/// - In step 2, a non-blank class only changes prefixes whose last label is that class or that
///   already have a child with that label, so only those are visited (in beam order, as the
///   reference visits them).
final class BeamSearchState: @unchecked Sendable {
    /// One entry of the list that `iterate_to_vec` builds and `nth_element` prunes.
    struct Candidate {
        /// The score, stored as an integer that orders like `-score` (see ``orderKey(_:)``).
        var scoreKey: UInt32
        var label: UInt32
        /// A trie node (≥ 0), or `~(slot * classCount + k)` for the `k`-th child created this
        /// frame by the beam prefix in `slot`.
        var reference: Int32

        @inline(__always)
        init(score: Float, label: UInt32, reference: Int32) {
            scoreKey = Candidate.orderKey(score)
            self.label = label
            self.reference = reference
        }

        var score: Float {
            @inline(__always) get {
                Float(bitPattern: scoreKey >= 0x8000_0000 ? scoreKey : 0x7FFF_FFFF &- scoreKey)
            }
            @inline(__always) set { scoreKey = Candidate.orderKey(newValue) }
        }

        /// Maps a (non-NaN) score to an integer that is smaller for higher scores and equal for
        /// equal scores, so that `prefix_compare` is one integer comparison. Adding +0 turns -0
        /// into +0 (the two compare equal as floats) and changes nothing else.
        @inline(__always)
        static func orderKey(_ score: Float) -> UInt32 {
            let bits = (score + 0).bitPattern
            let negative = UInt32(bitPattern: Int32(bitPattern: bits) &>> 31) // all ones if negative
            return (bits & negative) | ((0x7FFF_FFFF &- bits) & ~negative)
        }

        /// (score descending, label ascending) as one 64-bit number.
        var sortKey: UInt64 {
            @inline(__always) get { UInt64(scoreKey) &<< 32 | UInt64(label) }
        }
    }

    /// Coqui's `prefix_compare`: higher score first; on equal scores the smaller label first
    /// (the root's label sorts last).
    enum PrefixOrder: StrictWeakOrder {
        @inline(__always)
        static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
            a.sortKey < b.sortKey
        }
    }

    /// A child created this frame, recorded explicitly (scorer path only).
    struct PendingChild {
        var label: UInt32
        var logProbability: Float
        var pendingHistory: Int32
        var scorerState: Int32
    }

    /// What a frame reads of one beam prefix, as it was at the start of the frame.
    struct Slot {
        var node: Int32
        var label: UInt32
        var score: Float
        var blankPrevious: Float
        var nonBlankPrevious: Float
        var history: Int32
        var scorerState: Int32
        var hasChildren: Bool
    }

    /// A beam prefix that a non-blank class can change: its last label is that class and/or it
    /// has a child (`child`, else -1) with that label.
    struct WorkItem {
        var slot: Int32
        var child: Int32
    }

    let classCount: Int
    let beamWidth: Int
    var trie: PrefixTrie
    var history: TimestepHistory
    /// The beam: trie nodes in the reference's order (post-order, then `nth_element`).
    var prefixes: ManualBuffer<Int32>
    var absoluteFrame: Int = 0
    var startedExpanding = false
    private var historyLimit = 1 << 16
    /// The deepest node of the trunk: the chain from the root of removed nodes with exactly one
    /// child, which every beam prefix descends from. Walking it does nothing, and it can only
    /// grow (a trunk node can neither be revived nor get another child, since its parent is never
    /// in the beam), so the post-order walk starts below it.
    private var trunkBottom: Int32 = PrefixTrie.root
    /// The labels on the path from the root down to `trunkBottom` (inclusive): the start that
    /// every prefix in the beam shares and no later frame can change. Kept so that reading out
    /// a prefix walks only the part below the trunk.
    private(set) var trunkLabels: [Int] = []

    // Scratch buffers (contents meaningless between frames).
    private var pruned: PrunedLogProbabilities
    private var frame: [Float]
    private var slots: ManualBuffer<Slot>
    /// The non-blank classes of this frame in visiting order, and each label's position in it.
    private var emissionLabels: ManualBuffer<UInt32>
    private var emissionLogProbabilities: ManualBuffer<Float>
    private var emissionPosition: ManualBuffer<Int32>
    /// Work items grouped by label (`workStart[label] ..< workStart[label + 1]`).
    private var workStart: ManualBuffer<Int32>
    private var work: ManualBuffer<WorkItem>
    /// Per slot, a bitset of the labels that already have a child (`wordsPerSlot` words each).
    private var childLabels: ManualBuffer<UInt64>
    private let wordsPerSlot: Int
    /// Scorer path only: `[label][slot]` child lookup and the explicitly recorded new children.
    private var childBySlot: ManualBuffer<Int32>
    private var pending: ManualBuffer<PendingChild>
    private var pendingCount: ManualBuffer<Int32>
    private var candidates: ManualBuffer<Candidate>
    private var survivorsToCreate: [(pending: Int32, position: Int32)] = []

    init(classCount: Int, beamWidth: Int, cutoffTopN: Int, cutoffProbability: Double, rootScorerState: Int32) {
        self.classCount = classCount
        self.beamWidth = beamWidth
        trie = PrefixTrie(rootScorerState: rootScorerState)
        history = TimestepHistory()
        prefixes = ManualBuffer(capacity: 16)
        prefixes.append(PrefixTrie.root)
        pruned = PrunedLogProbabilities(classCount: classCount, cutoffTopN: cutoffTopN, cutoffProbability: cutoffProbability)
        frame = [Float](repeating: 0, count: classCount)
        wordsPerSlot = (classCount + 63) / 64
        slots = ManualBuffer()
        emissionLabels = ManualBuffer(capacity: classCount)
        emissionLogProbabilities = ManualBuffer(capacity: classCount)
        emissionPosition = ManualBuffer(capacity: classCount)
        workStart = ManualBuffer(capacity: classCount + 1)
        work = ManualBuffer()
        childLabels = ManualBuffer()
        childBySlot = ManualBuffer()
        pending = ManualBuffer()
        pendingCount = ManualBuffer()
        candidates = ManualBuffer()
    }

    private convenience init(copying other: BeamSearchState) {
        self.init(classCount: other.classCount, beamWidth: other.beamWidth, cutoffTopN: other.pruned.cutoffTopN,
                  cutoffProbability: other.pruned.cutoffProbability, rootScorerState: 0)
        trie.deallocate()
        history.deallocate()
        prefixes.deallocate()
        trie = other.trie.copy()
        history = other.history.copy()
        prefixes = other.prefixes.copy()
        absoluteFrame = other.absoluteFrame
        startedExpanding = other.startedExpanding
        historyLimit = other.historyLimit
        trunkBottom = other.trunkBottom
        trunkLabels = other.trunkLabels
    }

    func copy() -> BeamSearchState { BeamSearchState(copying: self) }

    deinit {
        trie.deallocate()
        history.deallocate()
        prefixes.deallocate()
        slots.deallocate()
        emissionLabels.deallocate()
        emissionLogProbabilities.deallocate()
        emissionPosition.deallocate()
        workStart.deallocate()
        work.deallocate()
        childLabels.deallocate()
        childBySlot.deallocate()
        pending.deallocate()
        pendingCount.deallocate()
        candidates.deallocate()
    }

    // MARK: - One frame (DecoderState::next)

    /// Processes one frame of `classCount` probabilities.
    func step(_ probabilities: UnsafePointer<Float>, scorer: (any PrefixScorer)?) {
        defer { absoluteFrame += 1 }
        let classCount = classCount
        let blank = classCount - 1
        // Out-of-range input would make the float arithmetic produce NaN and break the ordering
        // the search relies on; probabilities are clamped to [0, 1] (NaN -> 0).
        frame.withUnsafeMutableBufferPointer { row in
            for c in 0 ..< classCount {
                let p = probabilities[c]
                row[c] = p >= 0 ? (p <= 1 ? p : 1) : 0
            }
        }
        // Delayed start: frames are skipped until the blank's probability drops below 0.999.
        if Double(frame[blank]) < 0.999 { startedExpanding = true }
        guard startedExpanding else { return }

        let time = Int32(truncatingIfNeeded: absoluteFrame)
        let beamCount = min(prefixes.count, beamWidth)

        // Beam cutoff (only with a scorer).
        var minimumCutoff = LogMath.minusInfinity
        if let scorer {
            sortBeamPartially(count: beamCount)
            let lowest = trie.nodes[Int(prefixes[beamCount - 1])].score
            minimumCutoff = Float(Double(lowest) + LogMath.logDouble(Double(frame[blank])) - scorer.beamCutoffMargin)
        }

        frame.withUnsafeBufferPointer { pruned.compute(frame: $0.baseAddress!) }
        prepareEmissions()
        prepareSlots(beamCount: beamCount, withLookupTable: scorer != nil)

        if let scorer {
            let hooks = ScorerHooks(scorer: scorer, state: self, fullBeam: beamCount == beamWidth, minimumCutoff: minimumCutoff)
            extendPrefixes(hooks, beamCount: beamCount, time: time)
            collectCandidates(hooks, time: time)
            prune(hooks, time: time, beamCount: beamCount)
        } else {
            let hooks = NoScorerHooks()
            extendPrefixes(hooks, beamCount: beamCount, time: time)
            collectCandidates(hooks, time: time)
            prune(hooks, time: time, beamCount: beamCount)
        }
        if history.count > historyLimit { compactHistory() }
    }

    /// The non-blank entries of ``pruned`` in visiting order, and where each label sits in it.
    private func prepareEmissions() {
        let blank = UInt32(classCount - 1)
        emissionLabels.removeAll()
        emissionLogProbabilities.removeAll()
        emissionPosition.reserve(classCount)
        emissionPosition.count = classCount
        emissionPosition.base.update(repeating: -1, count: classCount)
        pruned.entries.withUnsafeBufferPointer { entries in
            for e in 0 ..< pruned.count {
                let label = UInt32(bitPattern: entries[e].label)
                if label == blank { continue }
                emissionPosition[Int(label)] = Int32(emissionLabels.count)
                emissionLabels.append(label)
                emissionLogProbabilities.append(entries[e].probability)
            }
        }
    }

    /// Copies what the frame reads of each beam prefix into ``slots``, records which labels
    /// already have children, and groups the prefixes by the non-blank labels that can change
    /// them (``work``).
    private func prepareSlots(beamCount: Int, withLookupTable: Bool) {
        let classCount = classCount
        let blank = UInt32(classCount - 1)
        let nodes = trie.nodes.base
        let wordsPerSlot = wordsPerSlot
        slots.removeAll()
        slots.reserve(beamCount)
        childLabels.reserve(beamCount * wordsPerSlot)
        childLabels.count = beamCount * wordsPerSlot
        let bits = childLabels.base
        bits.update(repeating: 0, count: beamCount * wordsPerSlot)
        var table: UnsafeMutablePointer<Int32>?
        if withLookupTable {
            childBySlot.reserve(beamCount * classCount)
            childBySlot.count = beamCount * classCount
            childBySlot.base.update(repeating: PrefixTrie.none, count: beamCount * classCount)
            table = childBySlot.base
        }

        // Count the work items per label, then fill them in slot order.
        workStart.reserve(classCount + 1)
        workStart.count = classCount + 1
        let start = workStart.base
        start.update(repeating: 0, count: classCount + 1)
        for slot in 0 ..< beamCount {
            let n = Int(prefixes[slot])
            let label = nodes[n].label
            var hasChildren = false
            var labelHasChild = false
            var child = nodes[n].firstChild
            while child != PrefixTrie.none {
                let childLabel = nodes[Int(child)].label
                bits[slot * wordsPerSlot + Int(childLabel >> 6)] |= 1 << UInt64(childLabel & 63)
                table?[Int(childLabel) * beamCount + slot] = child
                start[Int(childLabel) + 1] += 1
                if childLabel == label { labelHasChild = true }
                hasChildren = true
                child = nodes[Int(child)].nextSibling
            }
            if label < blank, !labelHasChild { start[Int(label) + 1] += 1 }
            nodes[n].beamSlot = Int32(slot)
            slots.append(Slot(node: Int32(n), label: label, score: nodes[n].score,
                              blankPrevious: nodes[n].blankPrevious, nonBlankPrevious: nodes[n].nonBlankPrevious,
                              history: nodes[n].history, scorerState: nodes[n].scorerState, hasChildren: hasChildren))
        }
        for label in 0 ..< classCount { start[label + 1] += start[label] }
        let total = Int(start[classCount])
        work.reserve(total)
        work.count = total
        let items = work.base
        // `start[label]` is used as the fill cursor and restored afterwards.
        for slot in 0 ..< beamCount {
            let n = Int(prefixes[slot])
            let label = nodes[n].label
            var labelHasChild = false
            var child = nodes[n].firstChild
            while child != PrefixTrie.none {
                let childLabel = Int(nodes[Int(child)].label)
                items[Int(start[childLabel])] = WorkItem(slot: Int32(slot), child: child)
                start[childLabel] += 1
                if childLabel == Int(label) { labelHasChild = true }
                child = nodes[Int(child)].nextSibling
            }
            if label < blank, !labelHasChild {
                items[Int(start[Int(label)])] = WorkItem(slot: Int32(slot), child: PrefixTrie.none)
                start[Int(label)] += 1
            }
        }
        for label in stride(from: classCount, to: 0, by: -1) { start[label] = start[label - 1] }
        start[0] = 0
    }

    /// The two nested loops of `DecoderState::next`: for every class (in ``pruned`` order), for
    /// every beam prefix, add the paths that end in that class at this frame.
    private func extendPrefixes<Hooks: ExtensionHooks>(_ hooks: Hooks, beamCount: Int, time: Int32) {
        let classCount = classCount
        let blank = UInt32(classCount - 1)
        let minusInfinity = LogMath.minusInfinity
        let nodes = trie.nodes.base
        let slots = slots.base
        let fullBeam = hooks.fullBeam
        let minimumCutoff = hooks.minimumCutoff
        if Hooks.recordsNewChildren {
            pending.reserve(beamCount * classCount)
            pending.count = beamCount * classCount
            pendingCount.reserve(beamCount)
            pendingCount.count = beamCount
            pendingCount.base.update(repeating: 0, count: beamCount)
        }
        let pendingBase = pending.base
        let pendingCountBase = pendingCount.base
        let table = childBySlot.base
        let workStart = workStart.base
        let work = work.base

        /// One (class, prefix) step for a non-blank class.
        @inline(__always)
        func extend(slot: Int, child: Int, label: UInt32, logProbabilityC: Float) {
            let prefixScore = slots[slot].score
            var logP: Float
            if label == slots[slot].label {
                // The repeated label collapses into the prefix itself ...
                let n = Int(slots[slot].node)
                let repeated = logProbabilityC + slots[slot].nonBlankPrevious
                if nodes[n].nonBlankCurrent < repeated { nodes[n].pendingHistory = TimestepHistory.null }
                nodes[n].nonBlankCurrent = LogMath.logSumExp(nodes[n].nonBlankCurrent, repeated)
                // ... or, after a blank, extends it.
                let blankPrevious = slots[slot].blankPrevious
                logP = blankPrevious > minusInfinity ? logProbabilityC + blankPrevious : minusInfinity
            } else {
                logP = logProbabilityC + prefixScore
            }
            if child >= 0 {
                if !nodes[child].exists {
                    nodes[child].exists = true
                    nodes[child].blankPrevious = minusInfinity
                    nodes[child].nonBlankPrevious = minusInfinity
                    nodes[child].blankCurrent = minusInfinity
                    nodes[child].nonBlankCurrent = minusInfinity
                }
                logP = hooks.scoreExtension(logP, parent: slots[slot].node, label: Int(label))
                if nodes[child].nonBlankCurrent < logP {
                    nodes[child].pendingHistory = slots[slot].history
                    nodes[child].pendingTimestep = time
                }
                nodes[child].nonBlankCurrent = LogMath.logSumExp(nodes[child].nonBlankCurrent, logP)
            } else if Hooks.recordsNewChildren {
                guard let scorerState = hooks.nextState(from: slots[slot].scorerState, appending: Int(label)) else { return }
                logP = hooks.scoreExtension(logP, parent: slots[slot].node, label: Int(label))
                // A fresh child has nonBlankCurrent = minus infinity: the path wins (and sets
                // the pending timestep) iff it is finite, and the merged value is logP.
                let k = Int(pendingCountBase[slot])
                pendingBase[slot * classCount + k] = PendingChild(
                    label: label, logProbability: logP,
                    pendingHistory: minusInfinity < logP ? slots[slot].history : TimestepHistory.null,
                    scorerState: scorerState)
                pendingCountBase[slot] = Int32(k + 1)
            }
            // Without a scorer a new child is not recorded: collectCandidates lists it.
        }

        pruned.entries.withUnsafeBufferPointer { entries in
            for e in 0 ..< pruned.count {
                let label = UInt32(bitPattern: entries[e].label)
                let logProbabilityC = entries[e].probability
                if label == blank {
                    for slot in 0 ..< beamCount {
                        let prefixScore = slots[slot].score
                        if fullBeam, logProbabilityC + prefixScore < minimumCutoff { break }
                        if prefixScore == minusInfinity { continue }
                        let n = Int(slots[slot].node)
                        let logP = logProbabilityC + prefixScore
                        if nodes[n].nonBlankCurrent < logP { nodes[n].pendingHistory = TimestepHistory.null }
                        nodes[n].blankCurrent = LogMath.logSumExp(nodes[n].blankCurrent, logP)
                    }
                } else if Hooks.recordsNewChildren {
                    // Every prefix can get a new child: visit them all.
                    for slot in 0 ..< beamCount {
                        let prefixScore = slots[slot].score
                        if fullBeam, logProbabilityC + prefixScore < minimumCutoff { break }
                        if prefixScore == minusInfinity { continue }
                        extend(slot: slot, child: Int(table[Int(label) * beamCount + slot]), label: label,
                               logProbabilityC: logProbabilityC)
                    }
                } else {
                    for i in Int(workStart[Int(label)]) ..< Int(workStart[Int(label) + 1]) {
                        let slot = Int(work[i].slot)
                        if slots[slot].score == minusInfinity { continue }
                        extend(slot: slot, child: Int(work[i].child), label: label, logProbabilityC: logProbabilityC)
                    }
                }
            }
        }
    }

    /// `prefixes_.clear(); root->iterate_to_vec(prefixes_)`: a post-order walk that moves each
    /// existing prefix's current probabilities to "previous", computes its score, applies its
    /// pending timestep, and lists it. Children created this frame are listed after their
    /// parent's older children and before the parent, in creation order, as in the reference.
    private func collectCandidates<Hooks: ExtensionHooks>(_ hooks: Hooks, time: Int32) {
        let classCount = classCount
        let beamCount = slots.count
        let minusInfinity = LogMath.minusInfinity
        let emissionCount = emissionLabels.count
        var candidates = candidates
        defer { self.candidates = candidates }
        candidates.removeAll()
        candidates.reserve(trie.nodes.count + beamCount * classCount)
        let nodes = trie.nodes.base
        let slots = slots.base
        let bits = childLabels.base
        let wordsPerSlot = wordsPerSlot
        let pendingBase = pending.base
        let emissionLabels = emissionLabels.base
        let emissionLogProbabilities = emissionLogProbabilities.base
        let emissionPosition = emissionPosition.base
        var output = candidates.base
        let trie = trie

        var top = trunkBottom
        while !nodes[Int(top)].exists, nodes[Int(top)].beamSlot < 0, nodes[Int(top)].firstChild != PrefixTrie.none,
              nodes[Int(top)].firstChild == nodes[Int(top)].lastChild {
            top = nodes[Int(top)].firstChild
            trunkLabels.append(Int(nodes[Int(top)].label))
        }
        trunkBottom = top

        var node = trie.leftmostLeaf(from: top)
        while node != PrefixTrie.none {
            let n = Int(node)
            let slot = Int(nodes[n].beamSlot)
            if slot >= 0 {
                let start = slot * classCount
                if Hooks.recordsNewChildren {
                    for k in 0 ..< Int(pendingCount[slot]) {
                        let child = pendingBase[start + k]
                        // score = logSumExp(blank: minus infinity, non-blank: logP) = logP
                        output.initialize(to: Candidate(score: child.logProbability, label: child.label,
                                                        reference: ~Int32(start + k)))
                        output += 1
                    }
                } else if slots[slot].score != minusInfinity {
                    // The prefix got a child for every non-blank class (in visiting order)
                    // except the labels that already had one.
                    let prefixScore = slots[slot].score
                    let blankPrevious = slots[slot].blankPrevious
                    let prefixLabel = Int(slots[slot].label)
                    // The repeated label extends only after a blank.
                    let repeatPosition = prefixLabel < classCount - 1 ? Int(emissionPosition[prefixLabel]) : -1
                    if !slots[slot].hasChildren {
                        let firstReference = ~Int32(truncatingIfNeeded: start)
                        for e in 0 ..< emissionCount {
                            output[e] = Candidate(score: emissionLogProbabilities[e] + prefixScore, label: emissionLabels[e],
                                                  reference: firstReference &- Int32(truncatingIfNeeded: e))
                        }
                        if repeatPosition >= 0 {
                            output[repeatPosition].score = blankPrevious > minusInfinity
                                ? emissionLogProbabilities[repeatPosition] + blankPrevious : minusInfinity
                        }
                        output += emissionCount
                    } else {
                        let slotBits = bits + slot * wordsPerSlot
                        for e in 0 ..< emissionCount {
                            let label = emissionLabels[e]
                            if slotBits[Int(label >> 6)] & (1 << UInt64(label & 63)) != 0 { continue }
                            let score: Float
                            if e == repeatPosition {
                                score = blankPrevious > minusInfinity ? emissionLogProbabilities[e] + blankPrevious : minusInfinity
                            } else {
                                score = emissionLogProbabilities[e] + prefixScore
                            }
                            output.initialize(to: Candidate(score: score, label: label, reference: ~Int32(start + e)))
                            output += 1
                        }
                    }
                }
            }
            if nodes[n].exists {
                let blankCurrent = nodes[n].blankCurrent
                let nonBlankCurrent = nodes[n].nonBlankCurrent
                nodes[n].blankPrevious = blankCurrent
                nodes[n].nonBlankPrevious = nonBlankCurrent
                nodes[n].blankCurrent = minusInfinity
                nodes[n].nonBlankCurrent = minusInfinity
                let score = LogMath.logSumExp(blankCurrent, nonBlankCurrent)
                nodes[n].score = score
                if nodes[n].pendingHistory != TimestepHistory.null {
                    nodes[n].history = history.append(parent: nodes[n].pendingHistory, timestep: nodes[n].pendingTimestep)
                    nodes[n].pendingHistory = TimestepHistory.null
                }
                output.initialize(to: Candidate(score: score, label: nodes[n].label, reference: node))
                output += 1
            }
            node = node == top ? PrefixTrie.none : trie.postOrderSuccessor(of: node)
        }
        candidates.count = output - candidates.base
    }

    /// Keeps the best `beamWidth` candidates (`nth_element` + `remove()`), creating trie nodes
    /// for the surviving children of this frame, and makes them the new beam.
    private func prune<Hooks: ExtensionHooks>(_ hooks: Hooks, time: Int32, beamCount: Int) {
        let total = candidates.count
        if total > beamWidth {
            ReferenceOrdering<PrefixOrder>.nthElement(candidates.base, count: total, nth: beamWidth)
        }
        let kept = min(total, beamWidth)
        for slot in 0 ..< beamCount { trie.nodes[Int(slots[slot].node)].beamSlot = -1 }

        // New children that survived become nodes, appended to their parent's children in
        // creation order (by parent slot, then creation).
        survivorsToCreate.removeAll(keepingCapacity: true)
        for position in 0 ..< kept where candidates[position].reference < 0 {
            survivorsToCreate.append((~candidates[position].reference, Int32(position)))
        }
        if !survivorsToCreate.isEmpty {
            survivorsToCreate.sort { $0.pending < $1.pending }
            trie.reserve(additional: survivorsToCreate.count)
            for (pendingIndex, position) in survivorsToCreate {
                let slot = Int(pendingIndex) / classCount
                let parent = slots[slot]
                let child: PendingChild
                if Hooks.recordsNewChildren {
                    child = pending[Int(pendingIndex)]
                } else {
                    let score = candidates[Int(position)].score
                    child = PendingChild(label: candidates[Int(position)].label, logProbability: score,
                                         pendingHistory: LogMath.minusInfinity < score ? parent.history : TimestepHistory.null,
                                         scorerState: 0)
                }
                var node = PrefixTrie.freshNode(label: child.label, parent: parent.node, frame: time)
                node.nonBlankPrevious = child.logProbability
                node.score = child.logProbability
                node.scorerState = child.scorerState
                if child.pendingHistory != TimestepHistory.null {
                    node.history = history.append(parent: child.pendingHistory, timestep: time)
                }
                candidates[Int(position)].reference = trie.insertLastChild(node)
            }
        }

        // Prefixes that fell out of the beam.
        if total > kept {
            for position in kept ..< total where candidates[position].reference >= 0 {
                trie.remove(candidates[position].reference)
            }
        }
        prefixes.removeAll()
        prefixes.reserve(kept)
        for position in 0 ..< kept { prefixes.append(candidates[position].reference) }
    }

    /// With a scorer, Coqui partially sorts the beam before each frame (which also changes the
    /// order in which prefixes are extended).
    private func sortBeamPartially(count: Int) {
        candidates.removeAll()
        candidates.reserve(prefixes.count)
        for i in 0 ..< prefixes.count {
            let node = trie.nodes[Int(prefixes[i])]
            candidates.append(Candidate(score: node.score, label: node.label, reference: prefixes[i]))
        }
        ReferenceOrdering<PrefixOrder>.partialSort(candidates.base, count: candidates.count, middle: count)
        for i in 0 ..< prefixes.count { prefixes[i] = candidates[i].reference }
    }

    /// Drops timestep history entries no prefix refers to any more.
    private func compactHistory() {
        var roots: [Int32] = []
        roots.reserveCapacity(trie.liveCount)
        var node = trie.leftmostLeaf(from: PrefixTrie.root)
        while node != PrefixTrie.none {
            roots.append(trie.nodes[Int(node)].history)
            node = trie.postOrderSuccessor(of: node)
        }
        roots.withUnsafeMutableBufferPointer { history.compact(keeping: $0) }
        var i = 0
        node = trie.leftmostLeaf(from: PrefixTrie.root)
        while node != PrefixTrie.none {
            trie.nodes[Int(node)].history = roots[i]
            i += 1
            node = trie.postOrderSuccessor(of: node)
        }
        historyLimit = max(1 << 16, 2 * history.count)
    }

    // MARK: - Results (DecoderState::decode)

    /// The best `count` prefixes, best first (`partial_sort` with `prefix_compare`).
    func decode(count: Int, scorer: (any PrefixScorer)?) -> [CandidateTranscript] {
        let entries = rankedPrefixes(count: count, scorer: scorer)
        return (0 ..< min(entries.count, count)).map { i in
            let node = entries[i].reference
            return CandidateTranscript(labels: labels(of: node), timesteps: timesteps(of: node),
                                       confidence: Double(entries[i].score))
        }
    }

    /// The beam with its best `count` prefixes first, in order (`partial_sort` with
    /// `prefix_compare`, after the scorer's final-word term).
    private func rankedPrefixes(count: Int, scorer: (any PrefixScorer)?) -> [Candidate] {
        let total = prefixes.count
        var entries: [Candidate] = (0 ..< total).map { i in
            let node = trie.nodes[Int(prefixes[i])]
            var score = node.score
            if let scorer, i < beamWidth {
                score = scorer.scoreFinal(score, prefix: PrefixPath(trie: self, node: prefixes[i]))
            }
            return Candidate(score: score, label: node.label, reference: prefixes[i])
        }
        let returned = min(total, count)
        guard total > 0 else { return [] }
        entries.withUnsafeMutableBufferPointer {
            ReferenceOrdering<PrefixOrder>.partialSort($0.baseAddress!, count: total, middle: returned)
        }
        return entries
    }

    /// The labels of the best prefix (the first of ``decode(count:scorer:)``), without
    /// timesteps: O(beam + labels below the trunk), plus one copy of the trunk's labels.
    func bestLabels(scorer: (any PrefixScorer)?) -> [Int] {
        let entries = rankedPrefixes(count: 1, scorer: scorer)
        return entries.isEmpty ? [] : labels(of: entries[0].reference)
    }

    /// The labels of the best prefix after the trunk's (`trunkLabels.count` of them).
    func bestLabelsBelowTrunk(scorer: (any PrefixScorer)?) -> [Int] {
        let entries = rankedPrefixes(count: 1, scorer: scorer)
        return entries.isEmpty ? [] : labelsBelowTrunk(of: entries[0].reference).labels
    }

    /// The labels of a prefix: the trunk's, then those on the way down from it.
    func labels(of node: Int32) -> [Int] {
        let (below, reachedTrunk) = labelsBelowTrunk(of: node)
        // Every beam prefix descends from the trunk; anything else was walked to the root.
        return reachedTrunk ? trunkLabels + below : below
    }

    private func labelsBelowTrunk(of node: Int32) -> (labels: [Int], reachedTrunk: Bool) {
        var below: [Int] = []
        var current = node
        while current != trunkBottom, current != PrefixTrie.root, current != PrefixTrie.none {
            below.append(Int(trie.nodes[Int(current)].label))
            current = trie.nodes[Int(current)].parent
        }
        return (below.reversed(), current == trunkBottom)
    }

    /// The timesteps of a prefix. A prefix that never had a finite-probability path (score
    /// -FLT_MAX) has no history in the reference (which would crash on it); here it inherits
    /// its parent's timesteps plus the frame it was created in.
    func timesteps(of node: Int32) -> [Int] {
        let entry = trie.nodes[Int(node)].history
        if entry != TimestepHistory.null { return history.timesteps(of: entry) }
        let parent = trie.nodes[Int(node)].parent
        guard parent != PrefixTrie.none else { return [] }
        return timesteps(of: parent) + [Int(trie.nodes[Int(node)].creationFrame)]
    }
}
