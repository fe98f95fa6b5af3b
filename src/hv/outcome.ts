/**
 * Every outcome code the hypervisor model returns, in one place so no two mean the same number:
 * the kernel's exit-handler results (kvm_asm.h), the negative errnos its fault paths return, the
 * two nestsim-only outcomes of L0's fault for L1's own accesses, and the hypercall returns (a
 * separate space: they go back to L1 in r3, never through a fault handler).
 */

// Exit handler results (kvm_asm.h): 0..3.
export const RESUME_GUEST = 0;
export const RESUME_GUEST_NV = 1;
export const RESUME_HOST = 2;
export const RESUME_HOST_NV = 3;

// Errnos (negative, as the kernel returns them).
export const EAGAIN = -11;
export const ENOMEM = -12;
export const EFAULT = -14;
export const EINVAL = -22;

/**
 * Outcomes of L0's radix fault for L1's own access (hv/l1-fault.ts) that the kernel expresses as
 * side effects before RESUME_GUEST (a DSI queued into L1; MMIO emulated). nestsim returns them as
 * values, above RESUME_HOST_NV so they never collide with a kernel result.
 */
/** A DSI was queued into L1: the access does not complete. */
export const L1_FAULT_DSI = 16;
/** The access was emulated as MMIO: it completes without memory. */
export const L1_FAULT_MMIO = 17;

// Hypercall returns (hvcall.h).
export const H_SUCCESS = 0;
export const H_PARAMETER = -4;
export const H_P2 = -55;
export const H_P4 = -57;
export const H_P5 = -58;
export const H_TOO_HARD = 9999;
