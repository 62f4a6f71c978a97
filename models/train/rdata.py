"""Minimal reader for R lazy-load databases (data/Rdata.rdx + Rdata.rdb), no R needed.

Only what the janeaustenr package uses is supported: XDR serialization format 2/3 with
character, integer, double and logical vectors, lists, pairlists and attributes.
"""
import gzip
import struct
import zlib

NILVALUE_SXP, REFSXP = 254, 255
SPECIAL_SXPS = {242, 241, 253, 252, 251, 247}  # empty/base/global env, unbound, missing, base namespace


class RReader:
    def __init__(self, data):
        if data[:2] != b"X\n":
            raise ValueError("only XDR (big-endian) R serialization is supported")
        self.data, self.pos, self.refs = data, 2, []
        version = self.int()
        self.int(), self.int()  # writer and minimal reader R versions
        if version == 3:
            name_length = self.int()
            self.pos += name_length  # skip the native encoding name

    def int(self):
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def length(self):
        n = self.int()
        if n == -1:  # long vector: two 32-bit halves
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def item(self):
        flags = self.int()
        kind = flags & 0xFF
        has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)
        if kind == NILVALUE_SXP:
            return None
        if kind in SPECIAL_SXPS:
            return None
        if kind == REFSXP:
            index = flags >> 8
            return self.refs[(index or self.int()) - 1]
        if kind == 1:  # SYMSXP
            name = self.item()
            self.refs.append(name)
            return name
        if kind in (2, 238):  # LISTSXP / ATTRLISTSXP: pairlist
            out = []
            while True:
                attrs = self.item() if has_attr else None
                tag = self.item() if has_tag else None
                out.append((tag, self.item()))
                nxt = self.int()
                kind = nxt & 0xFF
                if kind == NILVALUE_SXP:
                    return out
                if kind not in (2, 238):
                    raise ValueError("unsupported pairlist tail type %d" % kind)
                has_attr, has_tag = nxt & (1 << 9), nxt & (1 << 10)
        if kind == 9:  # CHARSXP
            n = self.int()
            if n == -1:
                return None
            s = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
            self.pos += n
            return s
        if kind == 16:  # STRSXP
            value = [self.item() for _ in range(self.length())]
        elif kind in (10, 13):  # LGLSXP, INTSXP
            n = self.length()
            value = list(struct.unpack_from(">%di" % n, self.data, self.pos))
            self.pos += 4 * n
        elif kind == 14:  # REALSXP
            n = self.length()
            value = list(struct.unpack_from(">%dd" % n, self.data, self.pos))
            self.pos += 8 * n
        elif kind in (19, 20):  # VECSXP, EXPRSXP
            value = [self.item() for _ in range(self.length())]
        else:
            raise ValueError("unsupported R type %d" % kind)
        attrs = dict(self.item()) if has_attr else {}
        if attrs.get("names") and isinstance(value, list) and kind in (19, 20):
            return dict(zip(attrs["names"], value))
        return value


def decompress_blob(blob):
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    (n,) = struct.unpack_from(">I", blob, 0)
    if blob[4:5] in (b"Z", b"2", b"X"):
        raise ValueError("only zlib-compressed lazy-load databases are supported")
    out = zlib.decompress(blob[4:])
    if len(out) != n:
        raise ValueError("corrupt lazy-load entry")
    return out


def read_lazy_load_db(base):
    """Return {name: value} for every object of base.rdx/base.rdb."""
    with open(base + ".rdx", "rb") as f:
        index = RReader(decompress_blob(f.read())).item()
    with open(base + ".rdb", "rb") as f:
        rdb = f.read()
    out = {}
    for name, (offset, size) in index["variables"].items():
        out[name] = RReader(decompress_blob(rdb[offset:offset + size])).item()
    return out
