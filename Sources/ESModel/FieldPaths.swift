// A Codable value as dotted field paths and printed values ("head.outDim" → "64"): what messages
// use to name the fields in which two configurations differ.
import Foundation

/// A configuration as dotted field paths → printed values ("head.outDim" → "64"), for messages
/// that name what differs between two configurations.
public enum ConfigFields {
    public static func flatten<T: Encodable>(_ x: T) -> [String: String] {
        guard let d = try? JSONEncoder().encode(x), let o = try? JSONSerialization.jsonObject(with: d) else { return [:] }
        return flatten(json: o)
    }

    /// The same for a parsed JSON value.
    public static func flatten(json o: Any) -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ prefix: String, _ v: Any) {
            if let dict = v as? [String: Any] { for (k, x) in dict { walk(prefix.isEmpty ? k : prefix + "." + k, x) } }
            else { out[prefix] = "\(v)" }
        }
        walk("", o)
        return out
    }
}
