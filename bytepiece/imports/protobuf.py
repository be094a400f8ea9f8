"""A minimal reader of protobuf messages (the wire format), enough for the
few messages bytepiece reads: fields by number, last occurrence wins."""

import struct


class Fields:
    """The fields of one protobuf message: ``values[number]`` lists each
    occurrence (an int for a varint, bytes for the other wire types)."""

    def __init__(self, data, where):
        self.values = {}
        pos, end = 0, len(data)
        while pos < end:
            key, pos = varint(data, pos, where)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = varint(data, pos, where)
            elif wire == 1:
                value, pos = data[pos:pos + 8], pos + 8
            elif wire == 2:
                size, pos = varint(data, pos, where)
                value, pos = data[pos:pos + size], pos + size
            elif wire == 5:
                value, pos = data[pos:pos + 4], pos + 4
            else:
                raise ValueError(f'{where}: unknown protobuf wire type {wire} (field {number})')
            if pos > end:
                raise ValueError(f'{where}: truncated (field {number} runs past the end)')
            self.values.setdefault(number, []).append(value)

    def last(self, number, default):
        values = self.values.get(number)
        return values[-1] if values else default

    def int(self, number, default, where, name):
        value = self.last(number, default)
        if not isinstance(value, int):
            raise ValueError(f'{where}: {name} has the wrong wire type')
        return value - (1 << 64) if value >= 1 << 63 else value  # int32 negatives are 10-byte varints

    def bool(self, number, default, where, name):
        return bool(self.int(number, int(default), where, name))

    def bytes(self, number, where, name):
        value = self.last(number, b'')
        if not isinstance(value, bytes):
            raise ValueError(f'{where}: {name} has the wrong wire type')
        return value

    def text(self, number, default, where, name):
        value = self.last(number, None)
        if value is None:
            return default
        if not isinstance(value, bytes):
            raise ValueError(f'{where}: {name} has the wrong wire type')
        try:
            return value.decode('utf-8')
        except UnicodeDecodeError:
            raise ValueError(f'{where}: {name} is not UTF-8') from None

    def float(self, number, where, name):
        value = self.last(number, None)
        if value is None:
            return 0.0
        if not isinstance(value, bytes) or len(value) != 4:
            raise ValueError(f'{where}: {name} is not a float')
        return struct.unpack('<f', value)[0]


def varint(data, pos, where):
    """The varint at ``data[pos:]`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError(f'{where}: truncated (a varint runs past the end)')
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError(f'{where}: a varint longer than 10 bytes')
