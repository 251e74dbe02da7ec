import Foundation

/// What this CPU and operating system support, asked of the CPU itself (`cpuid`, and
/// `xgetbv` for the register state the OS saves on a context switch: a CPU may have
/// AVX-512 units that the kernel has not enabled, and using them then traps).
public struct CPUFeatures: Sendable, Equatable, CustomStringConvertible {
    /// AVX2 with the OS saving ymm state.
    public var avx2 = false
    /// AVX-512 F and BW with the OS saving zmm and opmask state.
    public var avx512bw = false
    /// AVX-512 VNNI (`vpdpbusd`) on top of `avx512bw`.
    public var avx512vnni = false
    /// The CPU's brand string ("AMD EPYC 9654 96-Core Processor"), or "" where unknown.
    public var brand = ""

    /// The features of the CPU this process runs on, read once.
    public static let current: CPUFeatures = detect()

    public var description: String {
        let names = [avx2 ? "avx2" : nil, avx512bw ? "avx512bw" : nil, avx512vnni ? "avx512vnni" : nil].compactMap { $0 }
        return names.isEmpty ? "baseline" : names.joined(separator: " ")
    }

    static func detect() -> CPUFeatures {
        var features = CPUFeatures()
        #if arch(x86_64)
        guard let probe = CPUIDProbe() else { return features }
        let maxLeaf = probe.cpuid(0, 0).eax
        let leaf1 = probe.cpuid(1, 0)
        // CPUID.1:ECX bit 27: OSXSAVE (the OS uses XSAVE, so XCR0 can be read); bit 28: AVX.
        guard leaf1.ecx & (1 << 27) != 0, leaf1.ecx & (1 << 28) != 0, maxLeaf >= 7 else { return features }
        let xcr0 = probe.xgetbv()
        let leaf7 = probe.cpuid(7, 0)
        let osYMM = xcr0 & 0x6 == 0x6            // SSE and AVX state
        let osZMM = xcr0 & 0xE6 == 0xE6          // plus opmask, ZMM_Hi256, Hi16_ZMM
        features.avx2 = osYMM && leaf7.ebx & (1 << 5) != 0
        features.avx512bw = osZMM && leaf7.ebx & (1 << 16) != 0 && leaf7.ebx & (1 << 30) != 0
        features.avx512vnni = features.avx512bw && leaf7.ecx & (1 << 11) != 0
        if probe.cpuid(0x8000_0000, 0).eax >= 0x8000_0004 {
            var bytes: [UInt8] = []
            for leaf: UInt32 in 0x8000_0002...0x8000_0004 {
                let r = probe.cpuid(leaf, 0)
                for v in [r.eax, r.ebx, r.ecx, r.edx] { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
            }
            features.brand = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
        #endif
        return features
    }
}

/// `cpuid` and `xgetbv` as two tiny generated functions (Swift has no inline assembly).
struct CPUIDProbe {
    struct Registers { var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32 }
    private typealias CPUIDFunction = @convention(c) (UInt32, UInt32, UnsafeMutablePointer<UInt32>) -> Void
    private typealias XGetBVFunction = @convention(c) () -> UInt64
    private let cpuidCode: ExecutableCode
    private let xgetbvCode: ExecutableCode

    init?() {
        // void cpuid(leaf: edi, subleaf: esi, out: rdx) — rbx is callee-saved, rdx is clobbered by cpuid.
        var a = X86Assembler()
        a.push(.rbx)
        a.mov(.r8, .rdx)
        a.mov(.rax, .rdi)
        a.mov(.rcx, .rsi)
        a.cpuid()
        a.store32(.init(base: .r8, displacement: 0), .rax)
        a.store32(.init(base: .r8, displacement: 4), .rbx)
        a.store32(.init(base: .r8, displacement: 8), .rcx)
        a.store32(.init(base: .r8, displacement: 12), .rdx)
        a.pop(.rbx)
        a.ret()
        // uint64 xgetbv(): XCR0 in rax.
        var x = X86Assembler()
        x.mov32(.rcx, 0)
        x.xgetbv()
        x.shl(.rdx, 32)
        x.or(.rax, .rdx)
        x.ret()
        guard let c = ExecutableCode(a.bytes), let g = ExecutableCode(x.bytes) else { return nil }
        cpuidCode = c
        xgetbvCode = g
    }

    func cpuid(_ leaf: UInt32, _ subleaf: UInt32) -> Registers {
        var out = [UInt32](repeating: 0, count: 4)
        let f = unsafeBitCast(cpuidCode.entry, to: CPUIDFunction.self)
        out.withUnsafeMutableBufferPointer { f(leaf, subleaf, $0.baseAddress!) }
        return Registers(eax: out[0], ebx: out[1], ecx: out[2], edx: out[3])
    }

    func xgetbv() -> UInt64 { unsafeBitCast(xgetbvCode.entry, to: XGetBVFunction.self)() }
}
