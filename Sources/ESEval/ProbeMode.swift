// How the linear probe (docs/algorithm.md §7.2) sees the frozen backbone: `augmented` is upstream's
// protocol (new augmented views through the backbone every epoch, one process), `fast` extracts
// un-augmented features once (sharded over ranks) and trains on them.
public enum ProbeMode: String, CaseIterable, Sendable, CustomStringConvertible {
    case augmented, fast
    public var description: String { rawValue }
    /// What `esvit eval-linear` runs when --mode is not given.
    public static let standard = ProbeMode.augmented
}
