/**
 * Architected constants of the nested fault path (docs/model.md §1.6, §2.6) and the simulated
 * vCPU's fault registers (the fields of struct kvm_vcpu the nested exit path reads and writes).
 */

// DSISR bits (reg.h).
export const DSISR_NOHPTE = 0x4000_0000;
export const DSISR_ATTR_CONFLICT = 0x2000_0000;
export const DSISR_NOEXEC_OR_G = 0x1000_0000;
export const DSISR_PROTFAULT = 0x0800_0000;
export const DSISR_BADACCESS = 0x0400_0000;
export const DSISR_ISSTORE = 0x0200_0000;
export const DSISR_KEYFAULT = 0x0020_0000;
export const DSISR_UNSUPP_MMU = 0x0008_0000;
export const DSISR_SET_RC = 0x0004_0000;
export const DSISR_PRTABLE_FAULT = 0x0002_0000;
export const DSISR_BAD_COPYPASTE = 0x8;
export const DSISR_BAD_AMO = 0x4;
export const DSISR_BAD_CI_LDST = 0x2;
export const DSISR_BAD_DIRECT_ST = 0x8000_0000 | 0; // as int32
export const DSISR_BAD_EXT_CTRL = 0x0010_0000;
export const DSISR_ICSWX_NO_CT = 0x0000_4000;
export const DSISR_BAD_FAULT_64S =
  DSISR_BAD_DIRECT_ST |
  DSISR_BADACCESS |
  DSISR_BAD_EXT_CTRL |
  DSISR_ATTR_CONFLICT |
  DSISR_UNSUPP_MMU |
  DSISR_PRTABLE_FAULT |
  DSISR_ICSWX_NO_CT |
  DSISR_BAD_COPYPASTE |
  DSISR_BAD_AMO |
  DSISR_BAD_CI_LDST;
export const DSISR_SRR1_MATCH_64S =
  DSISR_NOHPTE | DSISR_NOEXEC_OR_G | DSISR_PROTFAULT | DSISR_KEYFAULT | DSISR_UNSUPP_MMU | DSISR_SET_RC | DSISR_PRTABLE_FAULT;
/** SRR1 "no-exec or guarded" on an ISI: the same bit position as DSISR_NOEXEC_OR_G. */
export const SRR1_ISI_N_G_OR_CIP = DSISR_NOEXEC_OR_G;
/**
 * The MSR part of an SRR1 image kept when the fault flags are rewritten: reg.h's SRR1_MSR_BITS,
 * ~0x783f0000 in 64 bits. An SRR1 image is held as two 32-bit words (`srr1Hi`, `srr1`); the mask
 * keeps every bit of the upper word (MSR_SF among them) and these of the lower one.
 */
export const SRR1_MSR_BITS = ~0x783f_0000;
/** HSRR1 bit of an HISI caused by a store (a write to a guarded/no-exec page): becomes DSISR_ISSTORE. */
export const HSRR1_HISI_WRITE = 0x0001_0000;
/** L2's MSR as its vCPUs run (64-bit, little endian, relocation on, EE, ME, RI): upper and lower words. */
export const L2_MSR_HI = 0x8000_0000 | 0; // MSR_SF
export const L2_MSR_LO = 0x8000 | 0x1000 | 0x20 | 0x10 | 0x2 | 0x1; // EE | ME | IR | DR | RI | LE

// Interrupt vectors.
export const BOOK3S_INTERRUPT_H_DATA_STORAGE = 0xe00;
export const BOOK3S_INTERRUPT_H_INST_STORAGE = 0xe20;

/** The vCPU registers the nested fault path uses. Addresses are byte addresses (< 2^53). */
export class VcpuRegs {
  /** 0xE00 (HDSI) or 0xE20 (HISI). */
  trap = BOOK3S_INTERRUPT_H_DATA_STORAGE;
  /** HDAR (HDSI) or PC (HISI): the L2 effective address. */
  faultDar = 0;
  faultDsisr = 0;
  /** ASDR: the L2 real address (n_gpa). */
  faultGpa = 0;
  /** HSRR1 image (HISI), lower 32 bits: the fault bits and the lower MSR bits. */
  srr1 = 0;
  /** HSRR1 image (HISI), upper 32 bits: the upper MSR bits (MSR_SF). */
  srr1Hi = 0;
  /** vcpu->arch.nested: the nested guest slot this vCPU runs, and its generation at entry. */
  slot = -1;
  generation = 0;
  /** A DSI queued into L2 (step F). */
  dsiPending = false;
  dsiDar = 0;
  dsiDsisr = 0;
  /** MMIO emulation needed: L0's userspace emulates it; L1 sees H_ENTER_NESTED return 0. */
  mmioPending = false;
  /** Outcome of the last fault (FAULT_KIND, stats/kinds.ts). */
  kind = 0;
}
