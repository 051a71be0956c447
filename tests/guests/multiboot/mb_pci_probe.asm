; Probes what a machine without PCI and without most legacy devices answers: PCI
; configuration mechanism #1 (ports 0xCF8/0xCFC) for bus 0, devices 0-31, must give
; vendor ID 0xFFFF (no device; vireo has no host bridge); ports no device claims
; (COM2 0x2F8, LPT1 0x378, 0x510, 0x1234) and MMIO addresses no device claims (beyond
; the 64 MiB of RAM, and in the 3-4 GiB hole away from the IOAPIC and LAPIC) read as all
; ones at every access size, and writes there change nothing. Exits through debug-exit
; with EXIT_PASSED (0x10) or the number of the failed check.
%include "mb_common.inc"

multiboot_header MB_PAGE_ALIGN

%define PCI_CONFIG_ADDRESS  0xcf8
%define PCI_CONFIG_DATA     0xcfc
%define MMIO_BEYOND_RAM     0x20000000      ; 512 MiB: past --memory 64M
%define MMIO_IN_HOLE        0xe0001000      ; between 3 GiB and the IOAPIC

bits 32
section .text
global _start
_start:
    mov esp, stack_top
    cld
    cmp eax, MB_BOOT_MAGIC
    fail_unless je, 1, "check 1 failed: EAX is not 0x2BADB002"

    ; 2: vendor/device ID dword of 00:dev.0 for every device on bus 0.
    xor ecx, ecx
.next_device:
    mov eax, ecx
    shl eax, 11
    or eax, 0x80000000              ; enable bit, bus 0, function 0, register 0
    mov dx, PCI_CONFIG_ADDRESS
    out dx, eax
    mov dx, PCI_CONFIG_DATA
    in eax, dx
    cmp eax, 0xffffffff
    fail_unless je, 2, "check 2 failed: a PCI vendor/device ID read is not all ones"
    in ax, dx                       ; the vendor ID alone
    cmp ax, 0xffff
    fail_unless je, 2, "check 2 failed: a PCI vendor ID read is not 0xFFFF"
    inc ecx
    cmp ecx, 32
    jb .next_device

    ; 3: unclaimed ports, each access size.
    mov dx, 0x2f8
    in al, dx
    cmp al, 0xff
    fail_unless je, 3, "check 3 failed: port 0x2F8 (COM2, no device) does not read 0xFF"
    mov dx, 0x378
    in al, dx
    cmp al, 0xff
    fail_unless je, 3, "check 3 failed: port 0x378 (LPT1, no device) does not read 0xFF"
    mov dx, 0x510
    in ax, dx
    cmp ax, 0xffff
    fail_unless je, 3, "check 3 failed: port 0x510 does not read 0xFFFF"
    mov dx, 0x1234
    mov eax, 0x11223344
    out dx, eax                     ; ignored
    in eax, dx
    cmp eax, 0xffffffff
    fail_unless je, 3, "check 3 failed: port 0x1234 does not read 0xFFFFFFFF after a write"

    ; 4: MMIO beyond the end of RAM.
    mov ebx, MMIO_BEYOND_RAM
    mov dword [ebx], 0x12345678     ; ignored
    cmp dword [ebx], 0xffffffff
    fail_unless je, 4, "check 4 failed: MMIO beyond RAM does not read 0xFFFFFFFF"
    cmp word [ebx + 0x10], 0xffff
    fail_unless je, 4, "check 4 failed: a 16-bit MMIO read beyond RAM is not 0xFFFF"
    cmp byte [ebx + 0x21], 0xff
    fail_unless je, 4, "check 4 failed: an 8-bit MMIO read beyond RAM is not 0xFF"

    ; 5: MMIO in the hole below 4 GiB.
    mov ebx, MMIO_IN_HOLE
    mov dword [ebx + 8], 0
    cmp dword [ebx + 8], 0xffffffff
    fail_unless je, 5, "check 5 failed: MMIO at 0xE0001008 does not read 0xFFFFFFFF"

    debug_print "pci and unclaimed-address probe passed"
    exit_with EXIT_PASSED

section .bss
alignb 16
stack: resb 4096
stack_top:
