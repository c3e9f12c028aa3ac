// The objective's share of a training step's small all-reduce: per micro-batch it adds its
// center sums (raw teacher logits per class and their row counts, docs/algorithm.md §3) and, on
// statistics steps, the teacher's collapse statistics; after the sums are reduced over ranks and
// micro-batches it updates its own centers from them. Callers only declare the fields and pass
// the buffer along; the objective alone reads and writes them.
import ESKernels
import ESLoss

public struct ObjectiveSums: Sendable {
    /// One head's teacher statistics, summed over rows (see EsViTLoss.TeacherStats).
    public struct TeacherHead: Sendable {
        public let probabilitySum: [Double]
        public let entropySum: Double, rows: Double, pairEntropy: Double
    }
    struct HeadFields: Sendable { let probabilitySum, entropySum, rows, pairEntropy: NamedSums.Field }

    let viewCenter, regionCenter, viewRows, regionRows: NamedSums.Field
    let viewStats, regionStats: HeadFields

    /// Declares the fields in `layout` for `classes` output dimensions.
    public init(declaringIn layout: inout NamedSums.Layout, classes K: Int) {
        viewCenter = layout.vector("view center sum", K); regionCenter = layout.vector("region center sum", K)
        viewRows = layout.scalar("view center rows"); regionRows = layout.scalar("region center rows")
        func head(_ name: String) -> HeadFields {
            HeadFields(probabilitySum: layout.vector("\(name) teacher probability sum", K), entropySum: layout.scalar("\(name) teacher entropy sum"),
                       rows: layout.scalar("\(name) teacher rows"), pairEntropy: layout.scalar("\(name) teacher pair entropy"))
        }
        viewStats = head("view"); regionStats = head("region")
    }
}

extension EsViT {
    /// Adds the last forwardBackward's center sums (with `statistics`, also the teacher's
    /// collapse statistics) to `sums`.
    public func addSums(to sums: NamedSums, _ f: ObjectiveSums, statistics: Bool) {
        let K = config.head.outDim
        loss.viewSum.withUnsafeBufferPointer { sums.add($0.baseAddress!, count: K, to: f.viewCenter) }
        if loss.useRegion { loss.regionSum.withUnsafeBufferPointer { sums.add($0.baseAddress!, count: K, to: f.regionCenter) } }
        sums[f.viewRows] += loss.viewCount; sums[f.regionRows] += loss.regionCount
        guard statistics else { return }
        for (region, h) in [(false, f.viewStats), (true, f.regionStats)] {
            guard let t = loss.teacherStats(region: region) else { continue }
            t.probabilitySum.withUnsafeBufferPointer { sums.add($0.baseAddress!, count: K, to: h.probabilitySum) }
            sums[h.entropySum] += t.entropySum; sums[h.rows] += t.rows; sums[h.pairEntropy] += t.pairEntropy
        }
    }

    /// The center update from sums reduced over every rank and micro-batch.
    public func updateCenters(from sums: NamedSums, _ f: ObjectiveSums) {
        centers.update(viewSum: sums.pointer(f.viewCenter), viewCount: sums[f.viewRows],
                       regionSum: sums.pointer(f.regionCenter), regionCount: loss.useRegion ? sums[f.regionRows] : 0)
    }

    /// The teacher statistics of the view head and (region loss on) the region head from reduced
    /// sums; `pairEntropy` is divided by `micro` (the sum of per-micro-batch means).
    public func teacherHeads(from sums: NamedSums, _ f: ObjectiveSums, microBatches micro: Double) -> (view: ObjectiveSums.TeacherHead, region: ObjectiveSums.TeacherHead?) {
        func head(_ h: ObjectiveSums.HeadFields) -> ObjectiveSums.TeacherHead {
            ObjectiveSums.TeacherHead(probabilitySum: sums.array(h.probabilitySum), entropySum: sums[h.entropySum], rows: sums[h.rows],
                                      pairEntropy: sums[h.pairEntropy] / micro)
        }
        return (head(f.viewStats), loss.useRegion ? head(f.regionStats) : nil)
    }
}
