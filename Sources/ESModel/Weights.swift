// Loading and saving a parameter table's tensors from/to safetensors under a key prefix.
// Loading checks the whole table first and reports every missing key, unexpected key (other
// than the constant relative_position_index buffers) and shape mismatch in one error, before
// any parameter is touched.
import Foundation

public enum Weights {
    /// Copies every table entry whose key starts with `tablePrefix` from `file`, where the file
    /// key is `filePrefix` + (key without `tablePrefix`). Extra file keys outside `filePrefix`
    /// are ignored (e.g. the heads or the student in a full checkpoint).
    public static func load(_ file: SafeTensorsFile, table: ParameterTable, into params: UnsafeMutablePointer<Float>,
                            tablePrefix: String = "", filePrefix: String = "") throws {
        try check(file, table: table, tablePrefix: tablePrefix, filePrefix: filePrefix)
        for e in table.entries where e.key.hasPrefix(tablePrefix) {
            try file.copyFloats(filePrefix + e.key.dropFirst(tablePrefix.count), into: params + e.offset, count: e.count)
        }
    }

    /// Throws, listing every missing key, unexpected key and shape mismatch, unless `file` holds
    /// exactly the table's entries under `filePrefix` with the table's shapes.
    public static func check(_ file: SafeTensorsFile, table: ParameterTable, tablePrefix: String = "", filePrefix: String = "") throws {
        var missing: [String] = [], badShape: [String] = [], wanted = Set<String>()
        for e in table.entries where e.key.hasPrefix(tablePrefix) {
            let fk = filePrefix + e.key.dropFirst(tablePrefix.count)
            wanted.insert(fk)
            guard let t = file.tensors[fk] else { missing.append(fk); continue }
            if t.shape != e.shape || t.dtype != "F32" {
                badShape.append("\(fk): file has \(t.dtype) \(t.shape), model needs F32 \(e.shape)")
            }
        }
        let unexpected = file.tensors.keys.filter {
            $0.hasPrefix(filePrefix) && !wanted.contains($0) && !$0.hasSuffix("relative_position_index")
        }.sorted()
        if !missing.isEmpty || !unexpected.isEmpty || !badShape.isEmpty {
            var lines = ["\(file.path) does not match the model (prefix '\(filePrefix)'):"]
            func list(_ title: String, _ keys: [String]) {
                guard !keys.isEmpty else { return }
                lines.append("  \(title) (\(keys.count)): " + keys.prefix(12).joined(separator: ", ") + (keys.count > 12 ? ", …" : ""))
            }
            list("missing", missing); list("unexpected", unexpected); list("wrong shape", badShape)
            lines.append("  hint: check --arch and the architecture overrides, and --prefix (e.g. 'teacher.backbone.')")
            throw SafeTensorsError.mismatch(lines.joined(separator: "\n"))
        }
    }

    /// Adds every entry under `tablePrefix` to `writer` as `filePrefix` + key.
    public static func add(_ table: ParameterTable, _ params: UnsafePointer<Float>, to writer: inout SafeTensorsWriter,
                           tablePrefix: String = "", filePrefix: String = "") {
        for e in table.entries where e.key.hasPrefix(tablePrefix) {
            writer.add(filePrefix + e.key.dropFirst(tablePrefix.count), shape: e.shape, floats: params + e.offset)
        }
    }
}
