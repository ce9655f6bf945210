package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
)

// A record is stored as its JSON document followed by the CRC-32C
// (Castagnoli) of the document, 4 bytes big endian, so that damage inside
// a record, which bbolt's page structure cannot see, is found when the
// record is read (schema version 1).
const checksumSize = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealRecord appends the checksum to a record's document.
func sealRecord(doc []byte) []byte {
	return binary.BigEndian.AppendUint32(doc, crc32.Checksum(doc, castagnoli))
}

// openRecord checks a stored record's checksum and returns its document.
// A mismatch is damage (errors.Is ErrDamaged).
func openRecord(raw []byte) ([]byte, error) {
	if len(raw) < checksumSize {
		return nil, fmt.Errorf("%w: a record of %d bytes is shorter than its checksum", ErrDamaged, len(raw))
	}
	doc, sum := raw[:len(raw)-checksumSize], binary.BigEndian.Uint32(raw[len(raw)-checksumSize:])
	if got := crc32.Checksum(doc, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: record checksum %08x, stored %08x", ErrDamaged, got, sum)
	}
	return doc, nil
}

// encodeRecord is a record's stored form.
func encodeRecord(v any) ([]byte, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return sealRecord(doc), nil
}

// decodeRecord decodes a stored record into v.
func decodeRecord(raw []byte, v any) error {
	doc, err := openRecord(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(doc, v)
}
