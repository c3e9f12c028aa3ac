// Loading and saving a parameter table's tensors from/to weights files under a key mapping
// (BackboneKeyMap: a prefix and a naming). Loading checks the whole table first and reports every
// missing key, unexpected key (other than constant buffers, and heads where the map skips them),
// non-float tensor and shape mismatch in one error, before any parameter is touched.
import Foundation

public enum Weights {
    /// Copies every table entry whose key starts with `tablePrefix` from `file`, where the file
    /// key is `filePrefix` + (key without `tablePrefix`). Extra file keys outside `filePrefix`
    /// are ignored (e.g. the heads or the student in a full checkpoint).
    public static func load(_ file: TensorSource, table: ParameterTable, into params: UnsafeMutablePointer<Float>,
                            tablePrefix: String = "", filePrefix: String = "") throws {
        try load(file, table: table, into: params, tablePrefix: tablePrefix, map: BackboneKeyMap(prefix: filePrefix))
    }

    /// As above with a mapping; returns the keys under the map's prefix that were skipped.
    @discardableResult
    public static func load(_ file: TensorSource, table: ParameterTable, into params: UnsafeMutablePointer<Float>,
                            tablePrefix: String = "", map: BackboneKeyMap) throws -> [String] {
        let skipped = try check(file, table: table, tablePrefix: tablePrefix, map: map)
        for e in table.entries where e.key.hasPrefix(tablePrefix) {
            try file.copyFloats(map.fileKey(e.key.dropFirst(tablePrefix.count)), into: params + e.offset, count: e.count)
        }
        return skipped
    }

    /// Throws, listing every missing key, unexpected key and shape mismatch, unless `file` holds
    /// exactly the table's entries under `filePrefix` with the table's shapes.
    public static func check(_ file: TensorSource, table: ParameterTable, tablePrefix: String = "", filePrefix: String = "") throws {
        try check(file, table: table, tablePrefix: tablePrefix, map: BackboneKeyMap(prefix: filePrefix))
    }

    /// As above with a mapping; returns the keys under the map's prefix that it skips.
    @discardableResult
    public static func check(_ file: TensorSource, table: ParameterTable, tablePrefix: String = "", map: BackboneKeyMap) throws -> [String] {
        let shapes = file.shapes
        var missing: [String] = [], badShape: [String] = [], wanted = Set<String>()
        for e in table.entries where e.key.hasPrefix(tablePrefix) {
            let fk = map.fileKey(e.key.dropFirst(tablePrefix.count))
            wanted.insert(fk)
            guard let shape = shapes[fk] else { missing.append(fk); continue }
            if let p = file.floatProblem(fk) { badShape.append("\(fk): file has \(p), model needs floats \(e.shape)") }
            else if shape != e.shape { badShape.append("\(fk): file has \(shape), model needs \(e.shape)") }
        }
        let under = shapes.keys.filter { map.isUnder($0) && !wanted.contains($0) }
        let skipped = under.filter { map.isSkipped($0) }.sorted()
        let unexpected = under.filter { !map.isSkipped($0) }.sorted()
        guard missing.isEmpty && unexpected.isEmpty && badShape.isEmpty else {
            throw SafeTensorsError.mismatch(mismatchReport(file, map, missing: missing, unexpected: unexpected, badShape: badShape))
        }
        return skipped
    }

    static func mismatchReport(_ file: TensorSource, _ map: BackboneKeyMap, missing: [String], unexpected: [String], badShape: [String]) -> String {
        var lines = ["\(file.path) does not match the model (prefix '\(map.prefix)', \(map.naming) names):"]
        func list(_ title: String, _ keys: [String]) {
            guard !keys.isEmpty else { return }
            lines.append("  \(title) (\(keys.count)): " + keys.prefix(12).joined(separator: ", ") + (keys.count > 12 ? ", …" : ""))
        }
        list("missing", missing); list("unexpected", unexpected); list("wrong shape", badShape)
        if map.skipsNonBackbone, let arch = map.describe(file.shapes) { lines.append("  the file's backbone: \(arch)") }
        lines.append("  hint: check --arch and the architecture overrides, and \(map.whichOption) or \(map.prefixOption) (e.g. 'teacher.backbone.')")
        return lines.joined(separator: "\n")
    }

    /// Adds every entry under `tablePrefix` to `writer` as `filePrefix` + key: copied, or, with
    /// `borrowing`, read from `params` when the writer writes (they must stay valid and unchanged until then).
    public static func add(_ table: ParameterTable, _ params: UnsafePointer<Float>, to writer: inout SafeTensorsWriter,
                           tablePrefix: String = "", filePrefix: String = "", borrowing: Bool = false) {
        add(table, params, to: &writer, tablePrefix: tablePrefix, map: BackboneKeyMap(prefix: filePrefix), borrowing: borrowing)
    }

    /// Adds every entry under `tablePrefix` to `writer` under its mapped name (copied or borrowed, as above).
    public static func add(_ table: ParameterTable, _ params: UnsafePointer<Float>, to writer: inout SafeTensorsWriter,
                           tablePrefix: String = "", map: BackboneKeyMap, borrowing: Bool = false) {
        for e in table.entries where e.key.hasPrefix(tablePrefix) {
            let name = map.fileKey(e.key.dropFirst(tablePrefix.count))
            if borrowing { writer.add(name, shape: e.shape, borrowing: params + e.offset) }
            else { writer.add(name, shape: e.shape, floats: params + e.offset) }
        }
    }
}
