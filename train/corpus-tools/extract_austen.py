#!/usr/bin/env python3
"""Rebuilds train/src/main/resources/corpus/austen.jsonl from Debian's r-cran-janeaustenr package.

  apt-get download r-cran-janeaustenr && dpkg -x r-cran-janeaustenr_*.deb pkg
  python3 extract_austen.py pkg/usr/lib/R/site-library/janeaustenr/data > austen.jsonl

The package stores each novel as an R character vector (one element per printed line) in an R
lazy-load database (data/Rdata.rdx = gzip'd index of offsets, data/Rdata.rdb = zlib'd objects in
R's XDR serialization). This reader understands just enough of that format for character vectors.
One JSONL line per chapter: {"title", "chapter", "text"}; text = the chapter's lines joined by "\n",
heading removed, surrounding blank lines stripped, otherwise unchanged.
"""
import gzip, json, re, struct, sys, zlib

class XdrReader:
    def __init__(self, data):
        self.data, self.pos = data, 0
        self.references = []  # symbols, referred to later by index (REFSXP)

    def int(self):
        value = struct.unpack('>i', self.data[self.pos:self.pos + 4])[0]
        self.pos += 4
        return value

    def bytes(self, n):
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value

    def header(self):
        assert self.bytes(2) == b'X\n', 'not an XDR serialization'
        version = self.int(); self.int(); self.int()
        if version == 3:
            self.bytes(self.int())  # native encoding name

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xff, flags & 0x200, flags & 0x400
        if kind == 254:  # NULL
            return None
        if kind == 255:  # reference to an earlier symbol
            return self.references[(flags >> 8) - 1]
        if kind == 1:  # symbol: its name follows
            symbol = ('symbol', self.item())
            self.references.append(symbol)
            return symbol
        if kind == 2:  # pairlist node (attributes)
            if has_attr: self.item()
            tag = self.item() if has_tag else None
            return ('pair', tag, self.item(), self.item())
        if kind == 9:  # CHARSXP
            n = self.int()
            return None if n == -1 else self.bytes(n).decode('utf-8')
        if kind in (16, 19):  # character vector, list
            value = [self.item() for _ in range(self.int())]
        elif kind in (10, 13):  # logical, integer
            value = [self.int() for _ in range(self.int())]
        elif kind == 14:  # double
            n = self.int()
            value = list(struct.unpack('>%dd' % n, self.bytes(8 * n)))
        else:
            raise ValueError('unsupported R type %d' % kind)
        if has_attr: self.item()
        return value

def read_object(data):
    reader = XdrReader(data)
    reader.header()
    return reader.item()

TITLES = {'PRIDE AND PREJUDICE': 'Pride and Prejudice', 'Persuasion': 'Persuasion'}

def main(folder):
    index = read_object(gzip.decompress(open(folder + '/Rdata.rdx', 'rb').read()))
    blob = open(folder + '/Rdata.rdb', 'rb').read()
    for offset, length in index[0]:
        entry = blob[offset:offset + length]
        lines = [line or '' for line in read_object(zlib.decompress(entry[4:]))]
        title = TITLES.get(lines[0])
        if title is None:
            continue
        chapters, current = [], None
        for line in lines:
            if re.fullmatch(r'Chapter \d+', line.strip()):
                current = []
                chapters.append(current)
            elif current is not None:
                current.append(line)
        for number, body in enumerate(chapters, 1):
            text = '\n'.join(body).strip('\n')
            print(json.dumps({'title': title, 'chapter': number, 'text': text}, ensure_ascii=False))

if __name__ == '__main__':
    main(sys.argv[1])
