// The manual holds together: every relative link in README.md, docs/*.md and tools'
// READMEs names a file that exists (and, for a #anchor into Markdown, a heading with GitHub's
// anchor for it), and every "§N" / "§N.M" reference names a numbered heading of the document it
// points to: the .md file named just before it (or the link it sits in), else its own file;
// and docs/architecture.md names every target and source file.
import ESTestSupport
import Foundation
import XCTest

final class DocLinksTests: XCTestCase {
    static var root: String { TestProcess.root }

    /// The Markdown files of the manual, relative to the repository.
    static func documents() throws -> [String] {
        let fm = FileManager.default
        var files = ["README.md"] + (try fm.contentsOfDirectory(atPath: root + "/docs")).filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        if let tools = fm.enumerator(atPath: root + "/tools") {
            for case let p as String in tools where p.hasSuffix(".md") { files.append("tools/" + p) }
        }
        return files.sorted()
    }

    /// Text outside fenced code blocks.
    static func prose(_ text: String) -> String {
        var inFence = false
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("```") { inFence.toggle(); return "" }
            return inFence ? "" : String(line)
        }.joined(separator: "\n")
    }

    /// GitHub's anchors of a document's headings (lowercase, punctuation dropped, spaces to '-', repeats numbered).
    static func anchors(_ text: String) -> Set<String> {
        var seen: [String: Int] = [:], out: Set<String> = []
        for line in prose(text).split(separator: "\n") where line.hasPrefix("#") {
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
            let slug = String(title.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " || $0 == "-" || $0 == "_" }
                .map { $0 == " " ? "-" : Character($0) })
            let n = seen[slug, default: 0]
            seen[slug] = n + 1
            out.insert(n == 0 ? slug : "\(slug)-\(n)")
        }
        return out
    }

    /// The section numbers of a document's headings ("## 2. Title" → "2", "### 8.11 Title" → "8.11").
    static func sections(_ text: String) -> Set<String> {
        let re = try! NSRegularExpression(pattern: "^#+\\s+§?(\\d+(?:\\.\\d+)*)\\.?\\s", options: .anchorsMatchLines)
        let ns = text as NSString
        return Set(re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) })
    }

    struct Link { let range: NSRange; let textRange: NSRange; let target: String }

    static func links(_ text: String) -> [Link] {
        let re = try! NSRegularExpression(pattern: "\\[([^\\]]*)\\]\\(([^)\\s]+)\\)")
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map {
            Link(range: $0.range, textRange: $0.range(at: 1), target: ns.substring(with: $0.range(at: 2)))
        }
    }

    func testRelativeLinksAndAnchorsResolve() throws {
        var problems: [String] = [], checked = 0
        for doc in try Self.documents() {
            let text = Self.prose(try String(contentsOfFile: Self.root + "/" + doc, encoding: .utf8))
            let dir = (doc as NSString).deletingLastPathComponent
            for link in Self.links(text) where !link.target.contains("://") && !link.target.hasPrefix("mailto:") {
                checked += 1
                let parts = link.target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let file = parts[0].isEmpty ? doc : ((dir as NSString).appendingPathComponent(parts[0]) as NSString).standardizingPath
                guard FileManager.default.fileExists(atPath: Self.root + "/" + file) else { problems.append("\(doc): \(link.target): no such file"); continue }
                if parts.count == 2, file.hasSuffix(".md") {
                    let target = try String(contentsOfFile: Self.root + "/" + file, encoding: .utf8)
                    if !Self.anchors(target).contains(parts[1]) { problems.append("\(doc): \(link.target): no heading with that anchor in \(file)") }
                }
            }
        }
        print("doc links: \(checked) relative links checked")
        XCTAssertGreaterThan(checked, 20)
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
    }

    func testSectionReferencesNameExistingSections() throws {
        let docs = try Self.documents()
        var sections: [String: Set<String>] = [:]
        for d in docs { sections[d] = Self.sections(try String(contentsOfFile: Self.root + "/" + d, encoding: .utf8)) }
        let ref = try NSRegularExpression(pattern: "§\\s?(\\d+(?:\\.\\d+)*)(?:[–-](\\d+(?:\\.\\d+)*))?")
        // A file named right before a chain of references: "usage.md §2", "[results.md](results.md) §10.6–10.7, §11".
        let named = try NSRegularExpression(pattern: "([A-Za-z0-9_./-]+\\.md)(?:\\]\\([^)]*\\))?\\)?[\\s,]*(?:(?:§\\s?[\\d.–-]+)(?:,?\\s(?:and\\s|or\\s)?|,\\s))*$")
        var problems: [String] = [], checked = 0
        for doc in docs {
            let text = Self.prose(try String(contentsOfFile: Self.root + "/" + doc, encoding: .utf8)), ns = text as NSString
            let dir = (doc as NSString).deletingLastPathComponent
            let inLinks = Self.links(text)
            for m in ref.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                var file = doc
                if let l = inLinks.first(where: { NSLocationInRange(m.range.location, $0.textRange) }), !l.target.contains("://"),
                   let path = l.target.split(separator: "#").first, path.hasSuffix(".md") {
                    file = ((dir as NSString).appendingPathComponent(String(path)) as NSString).standardizingPath
                } else {
                    let start = max(0, m.range.location - 160), before = ns.substring(with: NSRange(location: start, length: m.range.location - start))
                    if let f = named.firstMatch(in: before, range: NSRange(location: 0, length: (before as NSString).length)) {
                        let name = (before as NSString).substring(with: f.range(at: 1))
                        let candidates = [((dir as NSString).appendingPathComponent(name) as NSString).standardizingPath, name,
                                          "docs/" + (name as NSString).lastPathComponent]
                        file = candidates.first { sections[$0] != nil } ?? name
                    }
                }
                guard let have = sections[file] else { problems.append("\(doc): §… points to \(file), which is not a document here"); continue }
                for r in [1, 2] where m.range(at: r).location != NSNotFound {
                    checked += 1
                    let n = ns.substring(with: m.range(at: r))
                    if !have.contains(n) { problems.append("\(doc): §\(n) (in \(file)): no such section") }
                }
            }
        }
        print("doc links: \(checked) § references checked")
        XCTAssertGreaterThan(checked, 50)
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
    }

    func testAnchorsFollowGitHubsRule() {
        XCTAssertEqual(Self.anchors("## 10.6 Three seeds of the 30-minute pair (seeds 0–2, mean ± s.d.)\n## A\n## A"),
                       ["106-three-seeds-of-the-30-minute-pair-seeds-02-mean--sd", "a", "a-1"])
        XCTAssertEqual(Self.sections("## 2. The quick start\n### 8.11 An AVX2\n# Title\n## Faults"), ["2", "8.11"])
    }

    /// docs/architecture.md's listing ("Every target of `Package.swift` …") has a section per target
    /// under Sources/ (a line starting with its name, then the indented lines below it) naming
    /// every source file of that target as a word.
    func testArchitectureNamesEveryTargetAndSourceFile() throws {
        let lines = try String(contentsOfFile: Self.root + "/docs/architecture.md", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let fm = FileManager.default
        var missing: [String] = []
        for target in try fm.contentsOfDirectory(atPath: Self.root + "/Sources").sorted() {
            let listing = lines.firstIndex { $0.contains("Every target of `Package.swift`") } ?? 0
            guard let head = lines[listing...].firstIndex(where: { $0.hasPrefix(target + " ") }) else { missing.append("target \(target): no section"); continue }
            let body = lines[head...].prefix { $0 == lines[head] || $0.hasPrefix(" ") || $0.isEmpty }.joined(separator: "\n")
            for file in (fm.enumerator(atPath: Self.root + "/Sources/" + target)?.allObjects as? [String] ?? []).sorted()
            where [".swift", ".c", ".h"].contains(where: file.hasSuffix) {
                let name = NSRegularExpression.escapedPattern(for: (file as NSString).lastPathComponent)
                if body.range(of: "(?<![A-Za-z0-9_.])" + name + "(?![A-Za-z0-9_])", options: .regularExpression) == nil {
                    missing.append("Sources/\(target)/\(file)")
                }
            }
        }
        XCTAssertEqual(missing, [], "not named in its target's section of docs/architecture.md")
    }
}
