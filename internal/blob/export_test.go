package blob

import "medledger"

// Internals for the tests in package blob_test.

const TempPrefix = tempPrefix

func BlobPath(d *Dir, id medledger.BlobID) string { return d.blobPath(id) }
func TempDir(d *Dir) string                       { return d.tmp }
func Limit(d *Dir) int64                          { return d.limit }
