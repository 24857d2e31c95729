#!/usr/bin/env python3
"""Blanks the GPU code a shared library carries for other GPUs: in every fatbin of the ELF's .nv_fatbin section,
the payload of each cubin whose architecture is not kept, and of each PTX, is overwritten with zeros (headers,
sizes and offsets unchanged, so the library loads as before and the CUDA driver still picks the kept cubin for its
GPU); zeros then compress to almost nothing. A fatbin with no cubin of a kept architecture is left whole (its PTX may
be what a kept GPU needs). usage: fatbin_keep.py LIB ARCH[,ARCH...]   e.g. fatbin_keep.py libcudf.so 90"""
import mmap
import struct
import sys

FATBIN_MAGIC, CUBIN, PTX = 0xBA55ED50, 2, 1


def section(m, name):
    """(offset, size) of an ELF64 little-endian section."""
    if m[:4] != b'\x7fELF' or m[4] != 2 or m[5] != 1:
        sys.exit(f'not a 64-bit little-endian ELF file')
    shoff, = struct.unpack_from('<Q', m, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', m, 0x3A)
    str_off, = struct.unpack_from('<Q', m, shoff + shstrndx * shentsize + 0x18)
    for i in range(shnum):
        h = shoff + i * shentsize
        name_off, = struct.unpack_from('<I', m, h)
        end = m.find(b'\0', str_off + name_off)
        if m[str_off + name_off:end].decode() == name:
            off, size = struct.unpack_from('<QQ', m, h + 0x18)
            return off, size
    sys.exit(f'no {name} section')


def entries(m, start, end):
    """(kind, arch, payload offset, payload size) of each entry of the fatbin container at start."""
    q = start
    while q < end:
        kind, _, hsize, psize = struct.unpack_from('<HHIQ', m, q)
        arch, = struct.unpack_from('<I', m, q + 28)
        yield kind, arch, q + hsize, psize
        q += hsize + psize


def main():
    lib, keep = sys.argv[1], {int(a) for a in sys.argv[2].split(',')}
    with open(lib, 'r+b') as f, mmap.mmap(f.fileno(), 0) as m:
        off, size = section(m, '.nv_fatbin')
        p, fatbins, whole, blanked, kept = off, 0, 0, 0, 0
        while p + 16 <= off + size:
            magic, _, hsize, fsize = struct.unpack_from('<IHHQ', m, p)
            if magic != FATBIN_MAGIC:
                p += 8  # containers are 8-aligned
                continue
            fatbins += 1
            es = list(entries(m, p + hsize, p + hsize + fsize))
            if not any(k == CUBIN and a in keep for k, a, _, _ in es):
                whole += 1
            else:
                for k, a, at, n in es:
                    if k == CUBIN and a in keep:
                        kept += n
                    else:
                        m[at:at + n] = bytes(n)
                        blanked += n
            p += hsize + fsize
        m.flush()
    print(f'{lib}: {fatbins} fatbins; kept {kept / 2**20:.1f} MiB of sm_{sorted(keep)} code, blanked {blanked / 2**20:.1f} MiB;'
          f' {whole} fatbins without such code left whole')
    if fatbins == 0:
        sys.exit('no fatbin found')


if __name__ == '__main__':
    main()
