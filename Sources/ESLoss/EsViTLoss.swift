// EsViT's objective on head outputs (docs/algorithm.md §4): DINO's view-level loss L_V and EsViT's
// region-level loss L_R, combined as 0.5·L_V + 0.5·L_R over the same (teacher view, student
// view) pairs (or L_V alone with the region loss off).
//
// Rows are crop-major, then image, then token. With B images, V = 2 + nLocal views, Tg/Tl
// tokens per global/local crop:
//   student view rows   v·B + b                              (V·B rows)
//   student region rows [2·B·Tg global rows; nLocal·B·Tl local rows]
//   teacher view rows   iq·B + b, region rows iq·B·Tg + b·Tg + j   (iq ∈ {0, 1})
// Pairs: every (iq, v) with v ≠ iq, P = 2V − 2. Per student row the target is the sum of the
// teacher probability rows of its pairs, so the loss is a soft-target cross-entropy per row:
//   view row (v, b):        weight λ/(P·B),       targets {iq·B + b : iq ≠ v}
//   region row (v, b, i):   weight (1−λ)/(P·B·T_v), targets {iq·B·Tg + b·Tg + j*_iq(v, b, i)}
// with λ = 0.5 (1 without the region loss) and j* = argmax_j cos(z_s[v,b,i], z_t[iq,b,j]) on the
// backbone's final tokens (no gradient through the matching; first maximum on ties).
// Teacher probabilities: softmax((t − c)/τ_t); the local column sums of the raw teacher logits
// and their row counts are returned for the center update, which the caller applies after
// reducing them across ranks (no collective in here).
// Memory: student logits are formed in row chunks fused with the last layer: logits chunk =
// zn·Wᵀ → loss and dlogits in place → dW += dlogitsᵀ·zn, dzn = dlogits·W. Peak extra memory
// is chunkRows·K floats whatever the batch.
import ESKernels
import Foundation

public struct LossLayout: Codable, Equatable, Sendable {
    public let batch: Int, localCrops: Int, globalTokens: Int, localTokens: Int
    public init(batch: Int, localCrops: Int, globalTokens: Int, localTokens: Int) {
        self.batch = batch; self.localCrops = localCrops; self.globalTokens = globalTokens; self.localTokens = localTokens
    }
    public var views: Int { 2 + localCrops }
    public var pairs: Int { 2 * views - 2 }
    public var studentViewRows: Int { views * batch }
    public var studentRegionRows: Int { 2 * batch * globalTokens + localCrops * batch * localTokens }
    public var teacherViewRows: Int { 2 * batch }
    public var teacherRegionRows: Int { 2 * batch * globalTokens }
    /// First region row of view v and its tokens per image.
    public func regionStart(view v: Int) -> (row: Int, tokens: Int) {
        v < 2 ? (v * batch * globalTokens, globalTokens)
              : (2 * batch * globalTokens + (v - 2) * batch * localTokens, localTokens)
    }
}

/// The two center vectors (view and region), momentum update from globally reduced sums.
public final class Centers: @unchecked Sendable {
    public let view: FloatBuffer, region: FloatBuffer
    public let momentum: Float
    public init(classes K: Int, momentum: Float) {
        view = FloatBuffer(count: K); region = FloatBuffer(count: K); self.momentum = momentum
    }

    /// c ← m·c + (1 − m)·sum/count, for both centers.
    public func update(viewSum: UnsafePointer<Double>, viewCount: Double, regionSum: UnsafePointer<Double>, regionCount: Double) {
        let m = momentum
        for k in 0..<view.count { view[k] = view[k] * m + Float(viewSum[k] / viewCount) * (1 - m) }
        if regionCount > 0 { for k in 0..<region.count { region[k] = region[k] * m + Float(regionSum[k] / regionCount) * (1 - m) } }
    }
}

public enum LossError: Error, CustomStringConvertible {
    case nonFinite(view: Double, region: Double)
    public var description: String {
        switch self {
        case .nonFinite(let v, let r): return "loss is not finite (L_V = \(v), L_R = \(r))"
        }
    }
}

public struct LossValues: Sendable {
    public var total: Double, view: Double, region: Double
    public init(total: Double, view: Double, region: Double) { self.total = total; self.view = view; self.region = region }
}

public final class EsViTLoss: @unchecked Sendable {
    public let layout: LossLayout
    public let classes: Int
    /// Whether the region loss's buffers exist (the objective has a region head).
    public let hasRegion: Bool
    /// Whether the region loss is on for the coming steps (only with `hasRegion`): off, the loss
    /// is DINO's view loss alone (λ = 1), as in the view-only phase of a late-region schedule.
    public var useRegion: Bool {
        didSet {
            guard useRegion != oldValue else { return }             // set every step: rebuild the weights only on a change
            precondition(!useRegion || hasRegion, "the region loss has no buffers")
            viewWeights = EsViTLoss.viewWeights(layout, useRegion)
        }
    }
    public let studentTemperature: Float
    public let chunkRows: Int
    /// Teacher probabilities (teacher rows, K).
    public let teacherView: FloatBuffer, teacherRegion: FloatBuffer
    /// Local sums of raw teacher logits (K) and their row counts, for the centers.
    public private(set) var viewSum: [Double], regionSum: [Double]
    public private(set) var viewCount = 0.0, regionCount = 0.0
    let viewIndex: [Int32]
    var viewWeights: [Float]
    var regionIndex: [Int32], regionWeights: [Float]
    /// For every region match of the last `match`: best minus second-best cosine similarity.
    var regionGaps: [Float]
    let chunk: FloatBuffer
    /// Per-step scratch, sized once: column sums (K); L2-normalised tokens for the matching and
    /// their norms (student and teacher region rows × `channels`).
    let colSums: FloatBuffer
    public let channels: Int
    let studentNormed, teacherNormed, studentNorms, teacherNorms: FloatBuffer

    /// `channels`: width of the backbone tokens used for region matching.
    public init(layout: LossLayout, classes K: Int, channels C: Int, useRegion: Bool, studentTemperature: Float,
                chunkBytes: Int = 64 << 20) {
        self.layout = layout; classes = K; channels = C; hasRegion = useRegion; self.useRegion = useRegion; self.studentTemperature = studentTemperature
        colSums = FloatBuffer(count: K)
        studentNormed = FloatBuffer(count: hasRegion ? layout.studentRegionRows * C : 0)
        teacherNormed = FloatBuffer(count: hasRegion ? layout.teacherRegionRows * C : 0)
        studentNorms = FloatBuffer(count: hasRegion ? layout.studentRegionRows : 0)
        teacherNorms = FloatBuffer(count: hasRegion ? layout.teacherRegionRows : 0)
        chunkRows = max(8, min(chunkBytes / (4 * K), max(layout.studentRegionRows, layout.studentViewRows)))
        teacherView = FloatBuffer(count: layout.teacherViewRows * K)
        teacherRegion = FloatBuffer(count: hasRegion ? layout.teacherRegionRows * K : 0)
        viewSum = [Double](repeating: 0, count: K); regionSum = [Double](repeating: 0, count: K)
        let B = layout.batch, P = Double(layout.pairs)
        var vi = [Int32](repeating: -1, count: 2 * layout.studentViewRows)
        for v in 0..<layout.views { for b in 0..<B {
            let r = v * B + b
            var q = 0
            for iq in 0..<2 where iq != v { vi[2 * r + q] = Int32(iq * B + b); q += 1 }
        } }
        viewIndex = vi
        viewWeights = EsViTLoss.viewWeights(layout, useRegion)
        regionIndex = [Int32](repeating: -1, count: hasRegion ? 2 * layout.studentRegionRows : 0)
        regionGaps = [Float](repeating: .infinity, count: regionIndex.count)
        var rw = [Float](repeating: 0, count: hasRegion ? layout.studentRegionRows : 0)
        if hasRegion {
            for v in 0..<layout.views {
                let (start, T) = layout.regionStart(view: v)
                for r in start..<(start + B * T) { rw[r] = Float((1 - EsViTLoss.viewShare) / (P * Double(B) * Double(T))) }
            }
        }
        regionWeights = rw
        chunk = FloatBuffer(count: chunkRows * K)
    }

    /// λ, the view loss's share of the objective with the region loss on (EsViT: 0.5·L_V + 0.5·L_R);
    /// the region loss has 1 − λ, and the view loss alone has 1.
    public static let viewShare = 0.5

    /// Each view row's weight λ/(P·B) (1/(P·B) without the region loss).
    static func viewWeights(_ layout: LossLayout, _ region: Bool) -> [Float] {
        [Float](repeating: Float((region ? viewShare : 1.0) / (Double(layout.pairs) * Double(layout.batch))), count: layout.studentViewRows)
    }

    public var bytes: Int {
        [teacherView, teacherRegion, chunk, colSums, studentNormed, teacherNormed, studentNorms, teacherNorms].reduce(0) { $0 + $1.count * 4 }
    }

    /// Teacher logits zn·Wᵀ → column sums (for the centers) → softmax((t − c)/τ_t), for the view
    /// head and (when on) the region head.
    public func teacherProbabilities(viewZn: UnsafePointer<Float>, viewW: UnsafePointer<Float>,
                                     regionZn: UnsafePointer<Float>?, regionW: UnsafePointer<Float>?,
                                     bottleneck Bn: Int, centers: Centers, temperature tauT: Float) {
        func run(_ out: FloatBuffer, _ zn: UnsafePointer<Float>, _ w: UnsafePointer<Float>, rows: Int,
                 _ center: FloatBuffer, _ sum: inout [Double]) {
            let K = classes
            Linear.forward(y: out.pointer, x: zn, weight: w, bias: nil, rows: rows, inFeatures: Bn, outFeatures: K)
            colSums.zero()
            Linear.columnSums(out.pointer, rows: rows, cols: K, into: colSums.pointer)
            for k in 0..<K { sum[k] = Double(colSums[k]) }
            let inv = 1 / tauT, c = center.pointer, o = out.pointer
            Compute.pool.parallelFor(rows, minPerThread: 4) { r, _ in
                for i in r {
                    let row = o + i * K
                    for k in 0..<K { row[k] = (row[k] - c[k]) * inv }
                    Softmax.row(row, K)
                }
            }
        }
        run(teacherView, viewZn, viewW, rows: layout.teacherViewRows, centers.view, &viewSum)
        viewCount = Double(layout.teacherViewRows)
        if useRegion, let regionZn, let regionW {
            run(teacherRegion, regionZn, regionW, rows: layout.teacherRegionRows, centers.region, &regionSum)
            regionCount = Double(layout.teacherRegionRows)
        } else {
            regionCount = 0                                          // no region center update this step
        }
    }

    /// Collapse statistics of one head's teacher probabilities for this micro-batch (monitoring
    /// only, no effect on training): the summed per-row entropies, the column sums of the
    /// probabilities (their mean is the batch's average teacher distribution), and the teacher
    /// entropy averaged the way the loss averages its cross-entropies (over the student–teacher
    /// pairs; for the region head over the matched rows), so that KL(teacher ‖ student) =
    /// loss − pairEntropy exactly.
    public struct TeacherStats: Sendable {
        public var entropySum = 0.0, rows = 0.0, pairEntropy = 0.0
        public var probabilitySum: [Double] = []
    }

    /// Statistics of the view head (`region` false) or the region head (true; nil when off).
    public func teacherStats(region: Bool) -> TeacherStats? {
        if region && !useRegion { return nil }
        let K = classes
        let probs = region ? teacherRegion : teacherView
        let rows = region ? layout.teacherRegionRows : layout.teacherViewRows
        let entropies = [Float](unsafeUninitializedCapacity: rows) { buf, n in
            let e = buf.baseAddress!, p = probs.pointer
            Compute.pool.parallelFor(rows, minPerThread: 8) { r, _ in
                for i in r {
                    let row = p + i * K
                    var h: Float = 0
                    for k in 0..<K where row[k] > 0 { h -= row[k] * logf(row[k]) }
                    e[i] = h
                }
            }
            n = rows
        }
        var stats = TeacherStats()
        stats.rows = Double(rows)
        stats.entropySum = entropies.reduce(0.0) { $0 + Double($1) }
        colSums.zero()
        Linear.columnSums(probs.pointer, rows: rows, cols: K, into: colSums.pointer)
        stats.probabilitySum = (0..<K).map { Double(colSums[$0]) }
        // The loss weights pairs by weight / (head share); summed over valid targets they give 1.
        let index = region ? regionIndex : viewIndex, weights = region ? regionWeights : viewWeights
        let share = region ? 1 - EsViTLoss.viewShare : (useRegion ? EsViTLoss.viewShare : 1.0)
        var pair = 0.0
        for r in 0..<weights.count { for q in 0..<2 where index[2 * r + q] >= 0 { pair += Double(weights[r]) * Double(entropies[Int(index[2 * r + q])]) } }
        stats.pairEntropy = pair / share
        return stats
    }

    /// j* for every student region row and teacher view: argmax cosine similarity of the
    /// backbone tokens. studentTokens (studentRegionRows, C), teacherTokens (teacherRegionRows, C).
    public func match(studentTokens zs: UnsafePointer<Float>, teacherTokens zt: UnsafePointer<Float>) {
        guard useRegion else { return }
        let B = layout.batch, Tg = layout.globalTokens, C = channels
        let sn = studentNormed, tn = teacherNormed
        L2Normalize.forward(y: sn.pointer, norms: studentNorms.pointer, x: zs, rows: layout.studentRegionRows, dim: C)
        L2Normalize.forward(y: tn.pointer, norms: teacherNorms.pointer, x: zt, rows: layout.teacherRegionRows, dim: C)
        regionIndex.withUnsafeMutableBufferPointer { idxBuf in
          regionGaps.withUnsafeMutableBufferPointer { gapBuf in
            let idx = idxBuf.baseAddress!, gaps = gapBuf.baseAddress!, S = sn.pointer, Tt = tn.pointer
            for v in 0..<layout.views {
                let (start, T) = layout.regionStart(view: v)
                Compute.pool.parallelFor(B * T, minPerThread: 8) { rr, _ in
                    for k in rr {
                        let b = k / T, r = start + k
                        var q = 0
                        for iq in 0..<2 where iq != v {
                            let base = iq * B * Tg + b * Tg
                            var best = -Float.infinity, second = -Float.infinity, bestJ = 0
                            for j in 0..<Tg {
                                let s = dot(S + r * C, Tt + (base + j) * C, C)
                                if s > best { second = best; best = s; bestJ = j } else if s > second { second = s }
                            }
                            idx[2 * r + q] = Int32(base + bestJ); gaps[2 * r + q] = best - second; q += 1
                        }
                    }
                }
            }
          }
        }
    }

    /// The smallest best-minus-second-best cosine similarity over the last `match` (infinity
    /// without the region loss or with one candidate token). A gap below the float error of the
    /// similarities (about 1e-5 here) means another summation order could pick another token.
    public var smallestMatchGap: Float { regionGaps.min() ?? .infinity }

    /// Student side for one head: chunked logits = zn·Wᵀ, soft cross-entropy against the teacher
    /// probabilities, dzn (=) and dW (+=). Returns Σ_rows weight · CE.
    func studentRows(zn: UnsafePointer<Float>, w: UnsafePointer<Float>, dzn: UnsafeMutablePointer<Float>, dW: UnsafeMutablePointer<Float>,
                     rows: Int, bottleneck Bn: Int, teacher: FloatBuffer, index: [Int32], weights: [Float]) -> Double {
        let K = classes
        var total = 0.0
        var r0 = 0
        index.withUnsafeBufferPointer { ip in
            weights.withUnsafeBufferPointer { wp in
                while r0 < rows {
                    let n = min(chunkRows, rows - r0)
                    Linear.forward(y: chunk.pointer, x: zn + r0 * Bn, weight: w, bias: nil, rows: n, inFeatures: Bn, outFeatures: K)
                    total += SoftCrossEntropy.rowsInPlace(logits: chunk.pointer, rows: n, classes: K, temperature: studentTemperature,
                                                          targetMatrix: teacher.pointer, targetIndex: ip.baseAddress! + 2 * r0,
                                                          targetsPerRow: 2, weights: wp.baseAddress! + r0)
                    Linear.backward(dx: dzn + r0 * Bn, dWeight: dW, dBias: nil, dy: chunk.pointer, x: zn + r0 * Bn, weight: w,
                                    rows: n, inFeatures: Bn, outFeatures: K)
                    r0 += n
                }
            }
        }
        return total
    }

    /// Loss and gradients for the student heads (dW must be zeroed by the caller before).
    public func student(viewZn: UnsafePointer<Float>, viewW: UnsafePointer<Float>, viewDzn: UnsafeMutablePointer<Float>,
                        viewDW: UnsafeMutablePointer<Float>, regionZn: UnsafePointer<Float>?, regionW: UnsafePointer<Float>?,
                        regionDzn: UnsafeMutablePointer<Float>?, regionDW: UnsafeMutablePointer<Float>?,
                        bottleneck Bn: Int) throws -> LossValues {
        let v = studentRows(zn: viewZn, w: viewW, dzn: viewDzn, dW: viewDW, rows: layout.studentViewRows, bottleneck: Bn,
                            teacher: teacherView, index: viewIndex, weights: viewWeights)
        var r = 0.0
        if useRegion, let regionZn, let regionW, let regionDzn, let regionDW {
            r = studentRows(zn: regionZn, w: regionW, dzn: regionDzn, dW: regionDW, rows: layout.studentRegionRows, bottleneck: Bn,
                            teacher: teacherRegion, index: regionIndex, weights: regionWeights)
        }
        let values = useRegion ? LossValues(total: v + r, view: 2 * v, region: 2 * r) : LossValues(total: v, view: v, region: 0)
        guard values.total.isFinite else { throw LossError.nonFinite(view: values.view, region: values.region) }
        return values
    }
}
