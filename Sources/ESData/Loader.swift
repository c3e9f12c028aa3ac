// Threaded multi-crop loader: worker threads decode and augment whole batches into a bounded
// set of reusable batch slots; the consumer takes batches strictly in iteration order and can
// read how long it waited. Batches are view-major: globals (2B, 3, G, G) = all samples' view 0
// then view 1; locals (nLocal·B, 3, L, L) = local view 0 of every sample, then view 1, …
// Workers never call MPI. Determinism: a sample's crops depend only on (seed, epoch, dataset
// index, crop), so the thread count and timing cannot change them.
// Bad files: a sample that fails to load is replaced by a deterministic other sample (keyed by
// seed, index and attempt); its path and reason are logged once per run and the replacements are
// counted per epoch. A batch is valid until the next call to `next()`.
import ESKernels
import Foundation

public struct Batch {
    public let epoch: Int, iteration: Int
    /// (2B, 3, G, G) and (nLocal·B, 3, L, L), view-major.
    public let globals: FloatBuffer, locals: FloatBuffer
    /// Dataset index each row of the batch stands for (before any replacement) and the label used.
    public let indices: [Int], labels: [Int]
    /// One key per sample for the student's DropPath masks.
    public let sampleKeys: [UInt64]
    /// Samples of this batch that were replaced because their file was bad.
    public let replaced: Int
}

public final class MultiCropLoader: @unchecked Sendable {
    public let source: ImageSource
    public let sampler: EpochSampler
    public let config: MultiCropConfig
    public let seed: UInt64
    public let threadCount: Int
    /// Decode JPEGs at 1/2, 1/4 or 1/8 size when every crop of the sample still gets at least its
    /// output resolution (libjpeg DCT scaling). Off: always full-size decoding (bit-exact with
    /// Pillow + torchvision crops for the same draws).
    public let dctScaling: Bool
    let log: @Sendable (String) -> Void

    private let cond = NSCondition()
    private var slots: [(FloatBuffer, FloatBuffer)] = []
    private var freeSlots: [Int] = []
    private var ready: [Int: (Int, [Int], [Int], [UInt64], Int)] = [:]   // iteration → (slot, indices, labels, keys, replaced)
    private var order: [Int] = []
    private var epoch = 0, nextToProduce = 0, nextToConsume = 0, endIteration = 0
    private var heldSlot: Int? = nil
    private var stopping = false
    private var workers: [Thread] = []
    private var loggedBad = Set<Int>()
    public private(set) var replacedThisEpoch = 0
    /// Samples decoded at reduced size (DCT scaling) since the loader was made.
    public private(set) var reducedDecodes = 0
    /// Seconds the last `next()` waited for its batch.
    public private(set) var lastWait = 0.0

    public init(source: ImageSource, sampler: EpochSampler, config: MultiCropConfig, seed: UInt64, threads: Int,
                depth: Int? = nil, dctScaling: Bool = true,
                log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.source = source; self.sampler = sampler; self.config = config; self.seed = seed; self.dctScaling = dctScaling
        threadCount = max(1, threads); self.log = log
        let B = sampler.batchPerRank, G = config.globalSize, L = config.localSize
        for _ in 0..<(depth ?? 2 * max(1, threads)) {
            slots.append((FloatBuffer(count: 2 * B * 3 * G * G), FloatBuffer(count: max(1, config.localCrops * B * 3 * L * L))))
        }
        freeSlots = Array(0..<slots.count)
        for t in 0..<threadCount {
            // Weak, not unowned: a worker may still be between batches when the last owner lets
            // the loader go (reading an unowned reference then traps, seen in CI); it holds the
            // loader only while producing one batch or waiting a bounded time for work.
            let th = Thread { [weak self] in while let loader = self, loader.produceOne() {} }
            th.name = "esvit-loader-\(t)"
            workers.append(th)
            th.start()
        }
    }

    deinit { stop() }

    /// Begins an epoch (optionally mid-epoch); previously queued work is discarded.
    public func start(epoch e: Int, fromIteration first: Int = 0) {
        cond.lock()
        epoch = e; order = sampler.paddedOrder(epoch: e)
        nextToProduce = first; nextToConsume = first; endIteration = sampler.iterationsPerEpoch
        for (_, v) in ready { freeSlots.append(v.0) }
        ready.removeAll()
        if let h = heldSlot { freeSlots.append(h); heldSlot = nil }
        replacedThisEpoch = 0
        cond.broadcast()
        cond.unlock()
    }

    /// The next batch of the epoch in order, or nil at its end.
    public func next() -> Batch? {
        cond.lock()
        defer { cond.unlock() }
        if let h = heldSlot { freeSlots.append(h); heldSlot = nil; cond.broadcast() }
        guard nextToConsume < endIteration else { return nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        while ready[nextToConsume] == nil { cond.wait() }
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        let (slot, idx, labels, keys, replaced) = ready.removeValue(forKey: nextToConsume)!
        heldSlot = slot
        let b = Batch(epoch: epoch, iteration: nextToConsume, globals: slots[slot].0, locals: slots[slot].1, indices: idx,
                      labels: labels, sampleKeys: keys, replaced: replaced)
        nextToConsume += 1
        return b
    }

    public func stop() {
        cond.lock(); stopping = true; cond.broadcast(); cond.unlock()
    }

    /// One batch into a free slot; false once the loader stops. Returns true without work after
    /// waiting 0.2 s, so that the worker lets go of the loader between waits.
    private func produceOne() -> Bool {
        cond.lock()
        while !stopping && (freeSlots.isEmpty || nextToProduce >= endIteration) {
            if !cond.wait(until: Date().addingTimeInterval(0.2)) { cond.unlock(); return true }
        }
        if stopping { cond.unlock(); return false }
        let it = nextToProduce, e = epoch, slot = freeSlots.removeLast()
        nextToProduce += 1
        let indices = sampler.batch(epoch: e, iteration: it, order: order)
        cond.unlock()
        let (labels, keys, replaced) = fill(slot: slot, epoch: e, indices: indices)
        cond.lock()
        if e == epoch && it >= nextToConsume {
            ready[it] = (slot, indices, labels, keys, replaced)
            replacedThisEpoch += replaced
        } else {
            freeSlots.append(slot)      // produced for an abandoned epoch
        }
        cond.broadcast()
        cond.unlock()
        return true
    }

    /// Loads (with replacement of bad files) and augments every crop of a batch into a slot.
    func fill(slot: Int, epoch e: Int, indices: [Int]) -> ([Int], [UInt64], Int) {
        let B = indices.count, G = config.globalSize, L = config.localSize
        let (gbuf, lbuf) = slots[slot]
        var labels = [Int](), keys = [UInt64](), replaced = 0
        for (b, i) in indices.enumerated() {
            var used = i, attempt = 0
            var img: RGBImage? = nil
            // Every crop's box is drawn once, on the stored size, from its keyed stream; the streams
            // continue (past the box draws) into the rest of the augmentation.
            var rngs: [KeyedRandom] = [], boxes: [CropBox] = [], stored = (width: 1, height: 1)
            while img == nil {
                do {
                    img = try source.load(used) { w, h in
                        stored = (w, h)
                        rngs = []; boxes = []
                        var ratio = Double.infinity
                        for c in 0..<config.crops {
                            var rng = MultiCrop.rng(seed: seed, epoch: e, sample: i, crop: c)
                            let bx = MultiCrop.box(height: h, width: w, crop: c, config: config, rng: &rng)
                            rngs.append(rng); boxes.append(bx)
                            ratio = min(ratio, Double(min(bx.height, bx.width)) / Double(config.size(ofCrop: c)))
                        }
                        // Decode only as large as the smallest crop-to-output ratio allows.
                        let d = !dctScaling ? 1 : (ratio >= 8 ? 8 : (ratio >= 4 ? 4 : (ratio >= 2 ? 2 : 1)))
                        guard d > 1 else { return 0 }
                        cond.lock(); reducedDecodes += 1; cond.unlock()
                        return (min(w, h) + d - 1) / d
                    }
                } catch {
                    report(used, error)
                    attempt += 1
                    if attempt > 50 {
                        log("data: 50 replacement attempts for sample \(i) all failed; the dataset looks mostly unreadable")
                        img = RGBImage(width: 1, height: 1, pixels: [0, 0, 0])
                        break
                    }
                    var r = KeyedRandom(seed, 0xBAD_F11E, UInt64(i), UInt64(attempt))
                    used = Int(r.next() % UInt64(source.count))
                }
            }
            if used != i { replaced += 1 }
            labels.append(source.label(used))
            var k = KeyedRandom(seed, UInt64(e), UInt64(i), 0xD509)
            keys.append(k.next())
            let decoded = img!
            let sx = Double(decoded.width) / Double(stored.width), sy = Double(decoded.height) / Double(stored.height)
            for c in 0..<config.crops {
                var rng = rngs.count == config.crops ? rngs[c] : MultiCrop.rng(seed: seed, epoch: e, sample: i, crop: c)
                var box: CropBox? = nil
                if boxes.count == config.crops {
                    // Map the planned box into the decoded image (the identity at full size).
                    let b0 = boxes[c]
                    let top = min(Int(Double(b0.top) * sy), decoded.height - 1), left = min(Int(Double(b0.left) * sx), decoded.width - 1)
                    box = CropBox(top: top, left: left, height: max(1, min(Int((Double(b0.height) * sy).rounded()), decoded.height - top)),
                                  width: max(1, min(Int((Double(b0.width) * sx).rounded()), decoded.width - left)))
                }
                let out = MultiCrop.augment(decoded, crop: c, config: config, rng: &rng, box: box)
                let dst = c < 2 ? gbuf.pointer + (c * B + b) * 3 * G * G : lbuf.pointer + ((c - 2) * B + b) * 3 * L * L
                MultiCrop.normalize(out, mean: config.mean, std: config.std, into: dst)
            }
        }
        return (labels, keys, replaced)
    }

    private func report(_ i: Int, _ error: Error) {
        cond.lock()
        let first = loggedBad.insert(i).inserted
        cond.unlock()
        if first { log("data: skipping \(source.name(i)): \(error)") }
    }
}
