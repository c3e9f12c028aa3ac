// A vector of Double sums with named fields, declared once by a tiny layout builder: the small
// all-reduce of a training step (center sums, losses, flags, statistics) travels as one buffer,
// but every producer and consumer reads and writes it by field, never by numbered index.
//   var layout = NamedSums.Layout()
//   let loss = layout.scalar("loss"), centers = layout.vector("view center sum", 4096)
//   let sums = NamedSums(layout); sums[loss] += 1.5; sums.add(x, count: 4096, to: centers)
public final class NamedSums {
    /// One declared field: `count` consecutive values from `offset`.
    public struct Field: Sendable, Hashable {
        public let name: String, offset: Int, count: Int
    }

    public struct Layout: Sendable {
        public private(set) var fields: [Field] = []
        public private(set) var count = 0
        public init() {}
        public mutating func vector(_ name: String, _ n: Int) -> Field {
            precondition(n >= 0 && !fields.contains { $0.name == name }, "field '\(name)' declared twice or with a negative size")
            let f = Field(name: name, offset: count, count: n)
            fields.append(f); count += n
            return f
        }
        public mutating func scalar(_ name: String) -> Field { vector(name, 1) }
    }

    public let layout: Layout
    public let values: UnsafeMutablePointer<Double>
    public var count: Int { layout.count }

    public init(_ layout: Layout) {
        self.layout = layout
        values = .allocate(capacity: max(layout.count, 1))
        values.initialize(repeating: 0, count: max(layout.count, 1))
    }
    deinit { values.deallocate() }

    public func reset() { values.update(repeating: 0, count: layout.count) }

    /// A scalar field's value.
    public subscript(_ f: Field) -> Double {
        get { values[f.offset] }
        set { values[f.offset] = newValue }
    }

    /// A vector field's values, copied out.
    public func array(_ f: Field) -> [Double] { Array(UnsafeBufferPointer(start: values + f.offset, count: f.count)) }

    public func pointer(_ f: Field) -> UnsafeMutablePointer<Double> { values + f.offset }

    /// Adds `count` (≤ the field's size) values to a vector field.
    public func add(_ x: UnsafePointer<Double>, count n: Int, to f: Field) {
        precondition(n <= f.count, "\(n) values for field '\(f.name)' of \(f.count)")
        let p = values + f.offset
        for i in 0..<n { p[i] += x[i] }
    }
}
