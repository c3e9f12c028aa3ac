// A restricted unpickler for the data.pkl of torch.save files: it rebuilds plain values, dicts
// (OrderedDict too), lists, tuples and tensor references, and nothing else. It executes no code:
// a GLOBAL is only a name, accepted from a fixed list (OrderedDict, torch's tensor and parameter
// rebuilders, the torch.*Storage types, argparse.Namespace kept as opaque data, and what numpy
// scalars are made of: numpy.dtype, numpy.[_]core.multiarray.scalar and protocol 2's
// _codecs.encode of their bytes) and refused with its name otherwise; opcodes outside the
// protocol-2..4 subset torch writes are refused too. A numpy scalar (DINO and EsViT store their
// schedules' numpy.float64 values in the optimizer's param_groups) becomes the plain value its
// dtype and bytes spell; nothing is called to make it.
import Foundation

/// A tensor as data.pkl describes it: which storage, its element type, and the view into it.
public struct TorchTensorRef: Sendable {
    public let storageKey: String, storageType: String
    public let offset: Int, shape: [Int], stride: [Int]
}

public final class PickleDict { public var items: [(key: PickleValue, value: PickleValue)] = [] }
public final class PickleList { public var items: [PickleValue] = [] }

public indirect enum PickleValue {
    case none, bool(Bool), int(Int), float(Double), string(String), bytes(Data)
    case tuple([PickleValue]), list(PickleList), dict(PickleDict)
    /// An allowed GLOBAL (a class or function named, never called).
    case global(String)
    /// A persistent id (torch: the storage tuple) before the tensor rebuilder consumes it.
    case persistent([PickleValue])
    case tensor(TorchTensorRef)
    /// An instance kept as data (argparse.Namespace): its type and the state BUILD gave it.
    case object(String, PickleValue?)
    /// A numpy dtype: its code ("f8", "i4", …) and byte order ("<", ">", "|" or "=").
    case dtype(String, String)
}

enum Unpickler {
    static let storageTypes: Set<String> = ["Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"]
        .reduce(into: []) { $0.insert("torch.\($1)Storage") }
    static let allowed: Set<String> = storageTypes.union(["collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                                           "torch._utils._rebuild_parameter", "argparse.Namespace"])
        .union(numpyScalar).union(["numpy.dtype", "_codecs.encode"])
    /// The scalar constructor under numpy 1's and numpy 2's module names.
    static let numpyScalar: Set<String> = ["numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"]

    static func load(_ d: Data, name: String) throws -> PickleValue {
        var stack: [PickleValue] = [], marks: [Int] = [], memo: [Int: PickleValue] = [:]
        var p = d.startIndex
        func fail(_ m: String) -> TorchFileError { .invalid("\(name): \(m)") }
        func need(_ k: Int) throws { if p + k > d.endIndex { throw fail("data.pkl ends early") } }
        func byte() throws -> Int { try need(1); defer { p += 1 }; return Int(d[p]) }
        func uint(_ k: Int) throws -> Int { try need(k); var v = 0; for i in 0..<k { v |= Int(d[p + i]) << (8 * i) }; p += k; return v }
        func take(_ k: Int) throws -> Data { try need(k); defer { p += k }; return d[p..<(p + k)] }
        func line() throws -> String {
            guard let e = d[p...].firstIndex(of: 0x0A) else { throw fail("data.pkl ends early") }
            defer { p = e + 1 }
            return String(decoding: d[p..<e], as: UTF8.self)
        }
        func pop() throws -> PickleValue { guard let v = stack.popLast() else { throw fail("pickle stack underflow") }; return v }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("pickle MARK missing") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        func text(_ b: Data) -> PickleValue { .string(String(decoding: b, as: UTF8.self)) }
        func global(_ module: String, _ name: String) throws -> PickleValue {
            let full = "\(module).\(name)"
            guard allowed.contains(full) else {
                throw fail("refused global \(full): a state dict needs only tensors, dicts and plain values (this file may run code when loaded in Python; do not trust it)")
            }
            return .global(full)
        }
        while true {
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                        // PROTO
            case 0x95: _ = try uint(8)                                       // FRAME
            case 0x2E: guard let v = stack.popLast() else { throw fail("empty pickle") }; return v   // STOP
            case 0x28: marks.append(stack.count)                            // MARK
            case 0x7D: stack.append(.dict(PickleDict()))                     // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList()))                     // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                              // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))                   // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                     // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x64, 0x6C:                                                 // DICT, LIST
                let items = try popMark()
                if op == 0x6C { let l = PickleList(); l.items = items; stack.append(.list(l)) } else {
                    let dct = PickleDict()
                    for i in stride(from: 0, to: items.count - 1, by: 2) { dct.items.append((items[i], items[i + 1])) }
                    stack.append(.dict(dct))
                }
            case 0x73, 0x75:                                                 // SETITEM, SETITEMS
                let items = op == 0x73 ? [try pop(), try pop()].reversed() : try popMark()
                guard case .dict(let dct)? = stack.last, items.count % 2 == 0 else { throw fail("SETITEM(S) on a non-dict") }
                for i in stride(from: 0, to: items.count, by: 2) { dct.items.append((items[i], items[i + 1])) }
            case 0x61, 0x65:                                                 // APPEND, APPENDS
                let items = op == 0x61 ? [try pop()] : try popMark()
                guard case .list(let l)? = stack.last else { throw fail("APPEND(S) on a non-list") }
                l.items += items
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))   // BININT
            case 0x4B: stack.append(.int(try byte()))                                    // BININT1
            case 0x4D: stack.append(.int(try uint(2)))                                   // BININT2
            case 0x8A:                                                                   // LONG1
                let k = try byte()
                guard k <= 8 else { throw fail("integer too large") }
                var v = try uint(k)
                if k > 0 && k < 8 && v >> (8 * k - 1) != 0 { v -= 1 << (8 * k) }
                stack.append(.int(v))
            case 0x47: stack.append(.float(Double(bitPattern: UInt64(bigEndian: try take(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))))
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x58: stack.append(text(try take(try uint(4))))            // BINUNICODE
            case 0x8C: stack.append(text(try take(try byte())))              // SHORT_BINUNICODE
            case 0x8D: stack.append(text(try take(try uint(8))))            // BINUNICODE8
            case 0x54: stack.append(text(try take(try uint(4))))            // BINSTRING
            case 0x55: stack.append(text(try take(try byte())))              // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(try take(try uint(4))))          // BINBYTES
            case 0x43: stack.append(.bytes(try take(try byte())))            // SHORT_BINBYTES
            case 0x63: let module = try line(); stack.append(try global(module, try line()))   // GLOBAL
            case 0x93:                                                       // STACK_GLOBAL
                guard case .string(let n) = try pop(), case .string(let m) = try pop() else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(try global(m, n))
            case 0x71: guard let v = stack.last else { throw fail("BINPUT on an empty stack") }; memo[try byte()] = v
            case 0x72: guard let v = stack.last else { throw fail("LONG_BINPUT on an empty stack") }; memo[try uint(4)] = v
            case 0x94: guard let v = stack.last else { throw fail("MEMOIZE on an empty stack") }; memo[memo.count] = v
            case 0x68, 0x6A:                                                 // BINGET, LONG_BINGET
                let k = op == 0x68 ? try byte() : try uint(4)
                guard let v = memo[k] else { throw fail("memo entry \(k) missing") }
                stack.append(v)
            case 0x30: _ = try pop()                                         // POP
            case 0x31: _ = try popMark()                                     // POP_MARK
            case 0x32: guard let v = stack.last else { throw fail("DUP on an empty stack") }; stack.append(v)
            case 0x51: guard case .tuple(let t) = try pop() else { throw fail("persistent id is not a tuple") }; stack.append(.persistent(t))
            case 0x52:                                                       // REDUCE
                guard case .tuple(let args) = try pop(), case .global(let f) = try pop() else { throw fail("REDUCE needs a global and a tuple") }
                stack.append(try reduce(f, args, fail))
            case 0x81:                                                       // NEWOBJ
                _ = try pop()
                guard case .global(let cls) = try pop(), cls == "argparse.Namespace" else { throw fail("NEWOBJ of a class other than argparse.Namespace") }
                stack.append(.object(cls, nil))
            case 0x62:                                                       // BUILD
                let state = try pop()
                switch try pop() {
                case .object(let cls, _): stack.append(.object(cls, state))
                case .dtype(let code, let order):                          // numpy.dtype.__setstate__: (version, byte order, …)
                    guard case .tuple(let t) = state, t.count > 1, case .string(let o) = t[1] else { throw fail("malformed numpy dtype state") }
                    stack.append(.dtype(code, o == "=" ? order : o))
                case .dict(let dct): stack.append(.dict(dct))               // a state dict's _metadata attribute: dropped
                default: throw fail("BUILD on a value that is neither a Namespace, a dtype nor a dict")
                }
            default:
                throw fail(String(format: "refused pickle opcode 0x%02X at byte %d: not one a state dict needs", op, p - d.startIndex - 1))
            }
        }
    }

    /// The result of calling an allowed global on `args` (nothing is executed).
    static func reduce(_ f: String, _ args: [PickleValue], _ fail: (String) -> TorchFileError) throws -> PickleValue {
        switch f {
        case "collections.OrderedDict":
            return .dict(PickleDict())
        case "torch._utils._rebuild_parameter":
            guard let t = args.first, case .tensor = t else { throw fail("_rebuild_parameter without a tensor") }
            return t
        case "torch._utils._rebuild_tensor_v2":
            guard args.count >= 4, case .persistent(let pid) = args[0], pid.count >= 5,
                  case .string("storage") = pid[0], case .global(let type) = pid[1], storageTypes.contains(type),
                  case .string(let key) = pid[2], case .int(let offset) = args[1],
                  case .tuple(let size) = args[2], case .tuple(let stride) = args[3] else {
                throw fail("malformed _rebuild_tensor_v2 arguments")
            }
            func ints(_ v: [PickleValue]) throws -> [Int] {
                try v.map { guard case .int(let i) = $0, i >= 0 else { throw fail("tensor shape or stride is not a list of non-negative integers") }; return i }
            }
            return .tensor(TorchTensorRef(storageKey: key, storageType: type, offset: offset, shape: try ints(size), stride: try ints(stride)))
        case "numpy.dtype":
            guard case .string(let code)? = args.first else { throw fail("numpy.dtype without a type code") }
            return .dtype(code, "<")
        case "_codecs.encode":                                       // protocol 2's bytes: latin-1 text
            guard args.count == 2, case .string(let text) = args[0], case .string("latin1") = args[1] else {
                throw fail("_codecs.encode with arguments other than (text, 'latin1')")
            }
            var out = Data()
            for u in text.unicodeScalars {
                guard u.value < 256 else { throw fail("_codecs.encode: text is not latin-1") }
                out.append(UInt8(u.value))
            }
            return .bytes(out)
        case _ where numpyScalar.contains(f):
            guard args.count == 2, case .dtype(let code, let order) = args[0], case .bytes(let b) = args[1] else {
                throw fail("\(f) needs a dtype and its bytes")
            }
            return try numpyValue(code, order, b, fail)
        default:
            throw fail("\(f) cannot be called")
        }
    }

    /// A numpy scalar's value from its dtype code and bytes: floats, integers and bools become
    /// plain values; any other dtype is kept as opaque data (nobody reads it).
    static func numpyValue(_ code: String, _ order: String, _ b: Data, _ fail: (String) -> TorchFileError) throws -> PickleValue {
        guard let kind = code.first, let size = Int(code.dropFirst()), ["f", "i", "u", "b"].contains(kind) else {
            return .object("numpy scalar " + code, .bytes(b))
        }
        guard b.count == size else { throw fail("numpy scalar \(code) holds \(b.count) bytes") }
        var bits: UInt64 = 0
        for (i, x) in (order == ">" ? Data(b.reversed()) : b).enumerated() { bits |= UInt64(x) << (8 * UInt64(i)) }
        switch (kind, size) {
        case ("f", 8): return .float(Double(bitPattern: bits))
        case ("f", 4): return .float(Double(Float(bitPattern: UInt32(bits))))
        case ("f", 2): return .float(Double(Float16(bitPattern: UInt16(bits))))
        case ("b", 1): return .bool(bits != 0)
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8):                   // sign-extend from `size` bytes
            let shift = UInt64(64 - 8 * size)
            return .int(Int(Int64(bitPattern: bits << shift) >> Int64(shift)))
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8):
            return bits <= UInt64(Int.max) ? .int(Int(bits)) : .float(Double(bits))
        default: return .object("numpy scalar " + code, .bytes(b))
        }
    }
}
