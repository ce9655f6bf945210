package state

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// A state file is read here, with ReadAt and bounds checked, before bbolt
// maps it: bbolt trusts its file, so a truncated or damaged one makes it
// fault, assert or index out of range, and its consistency check
// (tx.Check) does that in a goroutine of its own, where no recover
// reaches, ending the process. The layout is bbolt's file format (its
// internal/common package): pages of pageSize bytes, each with a 16-byte
// header; two meta pages; branch and leaf pages of 16-byte elements whose
// keys and values lie at offsets relative to the element.

const (
	pageHeaderSize  = 16
	elementSize     = 16
	metaSize        = 64 // 56 bytes of fields, then their checksum
	bucketHeaderLen = 16 // a bucket's root page ID and sequence

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)

	branchPage   = 0x01
	leafPage     = 0x02
	metaPage     = 0x04
	freelistPage = 0x10

	bucketElement = 0x01

	// maxDepth bounds the B+tree's depth (bbolt's are a handful of levels
	// deep): a deeper one is a loop.
	maxDepth = 64
)

var native = binary.NativeEndian

// boltMeta is the part of a bbolt meta page the checks need.
type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) are in the file
	txid     uint64
}

// readMeta decodes the meta page at off; ok is false when it is not a
// valid one (wrong magic, version or checksum).
func readMeta(f io.ReaderAt, off int64) (m boltMeta, ok bool) {
	var b [pageHeaderSize + metaSize]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return m, false
	}
	meta := b[pageHeaderSize:]
	if native.Uint32(meta[0:]) != boltMagic || native.Uint32(meta[4:]) != boltVersion {
		return m, false
	}
	h := fnv.New64a()
	_, _ = h.Write(meta[:56])
	if h.Sum64() != native.Uint64(meta[56:]) {
		return m, false
	}
	return boltMeta{
		pageSize: native.Uint32(meta[8:]),
		root:     native.Uint64(meta[16:]),
		freelist: native.Uint64(meta[32:]),
		pgid:     native.Uint64(meta[40:]),
		txid:     native.Uint64(meta[48:]),
	}, true
}

// preflight checks, without mapping it, that the file at path is a bbolt
// file whose pages are all present (the newest valid meta page points
// inside the file) and whose reachable branch and leaf pages are well
// formed: each where its parent says, its elements, keys, values, child
// pages and inline buckets inside their bounds, no page reached twice.
func preflight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	size := info.Size()
	m0, ok0 := readMeta(f, 0)
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, pageSize)
	var m boltMeta
	switch {
	case !ok0 && !ok1:
		return damaged(path, "is not a readable state file (%d bytes, no valid bbolt meta page)", size)
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		m = m0
	default:
		m = m1
	}
	if m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 {
		return damaged(path, "is damaged: its page size %d is not a power of two of 512 bytes or more", m.pageSize)
	}
	if m.pgid < 2 || m.pgid > uint64(size)/uint64(m.pageSize) {
		return damaged(path, "is truncated: it is %d bytes long but its pages reach %d bytes", size, m.pgid*uint64(m.pageSize))
	}
	if m.root < 2 || m.root >= m.pgid || (m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid)) {
		return damaged(path, "is damaged: its meta page points outside its pages")
	}
	w := pageWalker{f: f, m: m, seen: map[uint64]bool{}}
	for id := range uint64(2) { // bbolt's check reads both meta pages' headers
		if _, _, _, err := w.header(id); err != nil {
			return damaged(path, "is damaged: meta %v", err)
		}
	}
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return damaged(path, "is damaged: %v", err)
		}
	}
	if err := w.page(m.root, 0); err != nil {
		return damaged(path, "is damaged: %v", err)
	}
	return nil
}

// header reads the header of page id: its flags and overflow count, after
// checking that the page says it is page id and fits in the file.
func (w *pageWalker) header(id uint64) (flags uint16, count int, overflow uint64, err error) {
	var hdr [pageHeaderSize]byte
	if _, err := w.f.ReadAt(hdr[:], int64(id*uint64(w.m.pageSize))); err != nil {
		return 0, 0, 0, fmt.Errorf("page %d: %w", id, err)
	}
	if got := native.Uint64(hdr[0:]); got != id {
		return 0, 0, 0, fmt.Errorf("page %d says it is page %d", id, got)
	}
	flags = native.Uint16(hdr[8:])
	if flags != branchPage && flags != leafPage && flags != metaPage && flags != freelistPage {
		return 0, 0, 0, fmt.Errorf("page %d has an unknown type %#x", id, flags)
	}
	overflow = uint64(native.Uint32(hdr[12:]))
	if id+overflow >= w.m.pgid {
		return 0, 0, 0, fmt.Errorf("page %d and its %d overflow pages pass the file's last page %d", id, overflow, w.m.pgid-1)
	}
	return flags, int(native.Uint16(hdr[10:])), overflow, nil
}

// freelist checks the freelist page: its type, and its count of page IDs
// within its bytes.
func (w *pageWalker) freelist(id uint64) error {
	flags, count, overflow, err := w.header(id)
	if err != nil {
		return err
	}
	if flags != freelistPage {
		return fmt.Errorf("freelist page %d has type %#x", id, flags)
	}
	room := (overflow+1)*uint64(w.m.pageSize) - pageHeaderSize
	n := uint64(count)
	if count == 0xFFFF { // the count is the first ID's slot
		var b [8]byte
		if _, err := w.f.ReadAt(b[:], int64(id*uint64(w.m.pageSize))+pageHeaderSize); err != nil {
			return fmt.Errorf("freelist page %d: %w", id, err)
		}
		n = native.Uint64(b[:]) + 1
	}
	if n > room/8 {
		return fmt.Errorf("freelist page %d: %d page IDs do not fit in it", id, n)
	}
	return nil
}

// pageWalker checks the pages reachable from a root.
type pageWalker struct {
	f    io.ReaderAt
	m    boltMeta
	seen map[uint64]bool
}

// page checks page id and what it reaches.
func (w *pageWalker) page(id uint64, depth int) error {
	if id < 2 || id >= w.m.pgid {
		return fmt.Errorf("page %d is outside the file's pages [2, %d)", id, w.m.pgid)
	}
	if depth > maxDepth {
		return fmt.Errorf("page %d: the tree is more than %d levels deep", id, maxDepth)
	}
	if w.seen[id] {
		return fmt.Errorf("page %d is reached twice", id)
	}
	w.seen[id] = true
	ps := uint64(w.m.pageSize)
	_, _, overflow, err := w.header(id)
	if err != nil {
		return err
	}
	buf := make([]byte, (overflow+1)*ps)
	if _, err := w.f.ReadAt(buf, int64(id*ps)); err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	return w.node(buf, fmt.Sprintf("page %d", id), depth)
}

// node checks a branch or leaf page held in buf (a page of the file, or
// an inline bucket's page inside a value).
func (w *pageWalker) node(buf []byte, name string, depth int) error {
	if len(buf) < pageHeaderSize {
		return fmt.Errorf("%s: %d bytes, shorter than a page header", name, len(buf))
	}
	flags, count := native.Uint16(buf[8:]), int(native.Uint16(buf[10:]))
	if flags != branchPage && flags != leafPage {
		return fmt.Errorf("%s has type %#x, not a branch or a leaf", name, flags)
	}
	if pageHeaderSize+count*elementSize > len(buf) {
		return fmt.Errorf("%s: %d elements do not fit in %d bytes", name, count, len(buf))
	}
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := buf[at : at+elementSize]
		if flags == branchPage {
			pos, ksize, child := uint64(native.Uint32(e[0:])), uint64(native.Uint32(e[4:])), native.Uint64(e[8:])
			if uint64(at)+pos+ksize > uint64(len(buf)) {
				return fmt.Errorf("%s: element %d's key lies outside the page", name, i)
			}
			if err := w.page(child, depth+1); err != nil {
				return err
			}
			continue
		}
		eflags, pos, ksize, vsize := native.Uint32(e[0:]), uint64(native.Uint32(e[4:])), uint64(native.Uint32(e[8:])), uint64(native.Uint32(e[12:]))
		start := uint64(at) + pos + ksize
		if start+vsize > uint64(len(buf)) {
			return fmt.Errorf("%s: element %d's key or value lies outside the page", name, i)
		}
		if eflags&bucketElement == 0 {
			continue
		}
		value := buf[start : start+vsize]
		if len(value) < bucketHeaderLen {
			return fmt.Errorf("%s: element %d is a bucket of %d bytes, shorter than a bucket header", name, i, len(value))
		}
		if root := native.Uint64(value[0:]); root != 0 {
			if err := w.page(root, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := w.node(value[bucketHeaderLen:], fmt.Sprintf("%s: element %d's inline bucket", name, i), depth+1); err != nil {
			return err
		}
	}
	return nil
}
