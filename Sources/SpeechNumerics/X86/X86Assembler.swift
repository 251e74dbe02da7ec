/// A small x86-64 assembler: just the instructions the int8 product kernels and the CPU
/// feature probe need, each encoded as the Intel SDM (volume 2) describes it.
///
/// Why an assembler at all: Swift has no per-function target attribute, and a library that
/// another package depends on by version may not pass `-target-cpu` (SwiftPM refuses unsafe
/// flags there). So the library is compiled for baseline x86-64 (SSE2), and the AVX2 and
/// AVX-512 VNNI kernels are written out as machine code at run time, once per kernel shape,
/// after the CPU has been asked what it supports. One binary runs everywhere and uses the
/// widest units it finds.
///
/// Memory operands are always `[base + disp32]` (ModRM mod = 10): no index register and no
/// EVEX disp8·N compression, so every encoding below has one form.
struct X86Assembler {
    private(set) var bytes: [UInt8] = []

    enum GPR: UInt8 { case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 }

    /// `[base + displacement]`.
    struct Memory {
        var base: GPR
        var displacement: Int32
    }

    /// A vector operand: register number (0–31 for zmm, 0–15 for ymm under VEX) or memory.
    enum Operand {
        case register(UInt8)
        case memory(Memory)
    }

    /// A position in the code that a backward jump can target.
    struct Label { let offset: Int }
    var here: Label { Label(offset: bytes.count) }

    private mutating func emit(_ b: UInt8...) { bytes.append(contentsOf: b) }
    private mutating func emit32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }

    /// ModRM (and SIB when the base is rsp/r12) plus disp32 for `reg` against `rm`.
    private mutating func modRM(reg: UInt8, _ rm: Operand) {
        switch rm {
        case .register(let r):
            emit(0xC0 | (reg & 7) << 3 | (r & 7))
        case .memory(let m):
            emit(0x80 | (reg & 7) << 3 | (m.base.rawValue & 7))
            if m.base.rawValue & 7 == 4 { emit(0x24) }      // SIB: base only, no index
            emit32(UInt32(bitPattern: m.displacement))
        }
    }

    // MARK: general-purpose instructions

    /// `mov r32, imm32` (zero-extends into the 64-bit register).
    mutating func mov32(_ r: GPR, _ imm: UInt32) {
        if r.rawValue >= 8 { emit(0x41) }
        emit(0xB8 + (r.rawValue & 7)); emit32(imm)
    }

    /// `mov r64, imm64`.
    mutating func mov64(_ r: GPR, _ imm: UInt64) {
        emit(0x48 | (r.rawValue >> 3), 0xB8 + (r.rawValue & 7))
        emit32(UInt32(truncatingIfNeeded: imm)); emit32(UInt32(truncatingIfNeeded: imm >> 32))
    }

    /// `mov r64, r64`.
    mutating func mov(_ dst: GPR, _ src: GPR) {
        emit(0x48 | (src.rawValue >> 3) << 2 | (dst.rawValue >> 3), 0x89)
        modRM(reg: src.rawValue, .register(dst.rawValue))
    }

    /// `add r64, imm32` (REX.W 81 /0).
    mutating func add(_ r: GPR, _ imm: Int32) {
        emit(0x48 | (r.rawValue >> 3), 0x81); modRM(reg: 0, .register(r.rawValue)); emit32(UInt32(bitPattern: imm))
    }

    /// `sub r64, imm32` (REX.W 81 /5).
    mutating func sub(_ r: GPR, _ imm: Int32) {
        emit(0x48 | (r.rawValue >> 3), 0x81); modRM(reg: 5, .register(r.rawValue)); emit32(UInt32(bitPattern: imm))
    }

    /// `shl r64, imm8` (REX.W C1 /4 ib).
    mutating func shl(_ r: GPR, _ count: UInt8) {
        emit(0x48 | (r.rawValue >> 3), 0xC1); modRM(reg: 4, .register(r.rawValue)); emit(count)
    }

    /// `or r64, r64` (REX.W 09 /r).
    mutating func or(_ dst: GPR, _ src: GPR) {
        emit(0x48 | (src.rawValue >> 3) << 2 | (dst.rawValue >> 3), 0x09)
        modRM(reg: src.rawValue, .register(dst.rawValue))
    }

    /// `mov dword [m], r32` (89 /r).
    mutating func store32(_ m: Memory, _ r: GPR) {
        let rex = (r.rawValue >> 3) << 2 | (m.base.rawValue >> 3)
        if rex != 0 { emit(0x40 | rex) }
        emit(0x89); modRM(reg: r.rawValue, .memory(m))
    }

    /// `jnz` back to `label` (0F 85 rel32).
    mutating func jnz(_ label: Label) {
        let next = bytes.count + 6
        emit(0x0F, 0x85); emit32(UInt32(bitPattern: Int32(label.offset - next)))
    }

    mutating func push(_ r: GPR) { if r.rawValue >= 8 { emit(0x41) }; emit(0x50 + (r.rawValue & 7)) }
    mutating func pop(_ r: GPR) { if r.rawValue >= 8 { emit(0x41) }; emit(0x58 + (r.rawValue & 7)) }
    mutating func ret() { emit(0xC3) }
    /// `cpuid` (0F A2): leaf in eax, subleaf in ecx; results in eax, ebx, ecx, edx.
    mutating func cpuid() { emit(0x0F, 0xA2) }
    /// `xgetbv` (0F 01 D0): XCR[ecx] in edx:eax.
    mutating func xgetbv() { emit(0x0F, 0x01, 0xD0) }
    /// `vzeroupper` (VEX.128.0F 77): avoids the AVX–SSE transition penalty after the kernel.
    mutating func vzeroupper() { emit(0xC5, 0xF8, 0x77) }

    // MARK: VEX (AVX2, 256-bit)

    /// Three-byte VEX prefix, opcode and ModRM for `reg, vvvv, rm` with L = 1 (256 bits).
    /// `map`: 1 = 0F, 2 = 0F38, 3 = 0F3A; `pp`: 0 = none, 1 = 66, 2 = F3, 3 = F2.
    private mutating func vex256(map: UInt8, pp: UInt8, w: Bool = false, opcode: UInt8, reg: UInt8, vvvv: UInt8, _ rm: Operand) {
        var b: UInt8 = 0
        if case .register(let r) = rm { b = r >> 3 } else if case .memory(let m) = rm { b = m.base.rawValue >> 3 }
        emit(0xC4)
        emit((~(reg >> 3) & 1) << 7 | 1 << 6 | (~b & 1) << 5 | map)
        emit((w ? 0x80 : 0) | (~vvvv & 0xF) << 3 | 1 << 2 | pp)
        emit(opcode)
        modRM(reg: reg, rm)
    }

    /// `vpmovsxbw ymm, m128`: sixteen int8 sign-extended to int16 (VEX.256.66.0F38 20).
    mutating func vpmovsxbw(ymm d: UInt8, _ m: Memory) { vex256(map: 2, pp: 1, opcode: 0x20, reg: d, vvvv: 0, .memory(m)) }
    /// `vpmaddwd ymm, ymm, ymm`: int16 pairs multiplied and summed into int32 (VEX.256.66.0F F5).
    mutating func vpmaddwd(ymm d: UInt8, _ a: UInt8, _ b: UInt8) { vex256(map: 1, pp: 1, opcode: 0xF5, reg: d, vvvv: a, .register(b)) }
    /// `vpaddd ymm, ymm, ymm` (VEX.256.66.0F FE).
    mutating func vpaddd(ymm d: UInt8, _ a: UInt8, _ b: UInt8) { vex256(map: 1, pp: 1, opcode: 0xFE, reg: d, vvvv: a, .register(b)) }
    /// `vpxor ymm, ymm, ymm` (VEX.256.66.0F EF).
    mutating func vpxor(ymm d: UInt8, _ a: UInt8, _ b: UInt8) { vex256(map: 1, pp: 1, opcode: 0xEF, reg: d, vvvv: a, .register(b)) }
    /// `vmovdqu m256, ymm` (VEX.256.F3.0F 7F).
    mutating func vmovdqu(_ m: Memory, ymm s: UInt8) { vex256(map: 1, pp: 2, opcode: 0x7F, reg: s, vvvv: 0, .memory(m)) }

    // MARK: EVEX (AVX-512, 512-bit)

    /// Four-byte EVEX prefix, opcode and ModRM for `reg, vvvv, rm` with L'L = 10 (512 bits).
    /// `mask`: opmask register k0–k7 (k0 = none); `zeroing`: masked-off lanes become 0.
    private mutating func evex512(map: UInt8, pp: UInt8, w: Bool = false, opcode: UInt8, reg: UInt8, vvvv: UInt8, _ rm: Operand,
                                  mask: UInt8 = 0, zeroing: Bool = false) {
        var b: UInt8 = 0, x: UInt8 = 0
        switch rm {
        case .register(let r): b = (r >> 3) & 1; x = (r >> 4) & 1   // EVEX.X extends a register rm to 32
        case .memory(let m): b = m.base.rawValue >> 3
        }
        emit(0x62)
        emit((~(reg >> 3) & 1) << 7 | (~x & 1) << 6 | (~b & 1) << 5 | (~(reg >> 4) & 1) << 4 | map)
        emit((w ? 0x80 : 0) | (~vvvv & 0xF) << 3 | 1 << 2 | pp)
        emit((zeroing ? 0x80 : 0) | 0b10 << 5 | (~(vvvv >> 4) & 1) << 3 | (mask & 7))
        emit(opcode)
        modRM(reg: reg, rm)
    }

    /// `vpdpbusd zmm, zmm, zmm/m512`: per int32 lane, four u8 (from `a`) times four s8 (from
    /// `b`) summed into the lane, without saturation (EVEX.512.66.0F38.W0 50, AVX512_VNNI).
    mutating func vpdpbusd(zmm d: UInt8, _ a: UInt8, _ b: Operand) { evex512(map: 2, pp: 1, opcode: 0x50, reg: d, vvvv: a, b) }
    /// `vpxord zmm, zmm, zmm/m512` (EVEX.512.66.0F.W0 EF).
    mutating func vpxord(zmm d: UInt8, _ a: UInt8, _ b: Operand) { evex512(map: 1, pp: 1, opcode: 0xEF, reg: d, vvvv: a, b) }
    /// `vmovdqu32 zmm, m512` (EVEX.512.F3.0F.W0 6F).
    mutating func vmovdqu32(zmm d: UInt8, _ m: Memory) { evex512(map: 1, pp: 2, opcode: 0x6F, reg: d, vvvv: 0, .memory(m)) }
    /// `vmovdqu32 m512, zmm` (EVEX.512.F3.0F.W0 7F).
    mutating func vmovdqu32(_ m: Memory, zmm s: UInt8) { evex512(map: 1, pp: 2, opcode: 0x7F, reg: s, vvvv: 0, .memory(m)) }
    /// `vmovdqu8 zmm{k}{z}, m512`: only the bytes selected by `mask` are read (the others
    /// become 0 and cannot fault) (EVEX.512.F2.0F.W0 6F, AVX512BW).
    mutating func vmovdqu8(zmm d: UInt8, _ m: Memory, mask: UInt8) {
        evex512(map: 1, pp: 3, opcode: 0x6F, reg: d, vvvv: 0, .memory(m), mask: mask, zeroing: true)
    }
    /// `vpbroadcastd zmm, r32` (EVEX.512.66.0F38.W0 7C).
    mutating func vpbroadcastd(zmm d: UInt8, _ r: GPR) { evex512(map: 2, pp: 1, opcode: 0x7C, reg: d, vvvv: 0, .register(r.rawValue)) }
    /// `kmovq k, r64` (VEX.L0.F2.0F.W1 92, AVX512BW).
    mutating func kmovq(k: UInt8, _ r: GPR) {
        emit(0xC4, 0x80 | 0x40 | (~(r.rawValue >> 3) & 1) << 5 | 1, 0x80 | 0x78 | 3, 0x92)
        modRM(reg: k, .register(r.rawValue))
    }
}
