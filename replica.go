package medledger

// Replica requests: a node pulls ciphertext and key wraps it lacks from a
// peer node. They are signed by the calling node's Ed25519 validator key,
// not by an account: HeaderNode carries the hex public key, HeaderTime and
// HeaderSignature the time and the signature over ReplicaSignBytes.
const HeaderNode = "X-Medledger-Node"

// ReplicaSignBytes are the bytes a replica request signs: RequestSignBytes
// of the request with an empty body, under a domain of its own so that a
// node-signed request can never pass for an account's, nor the reverse.
func ReplicaSignBytes(method, pathAndQuery string, unix int64) []byte {
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	return append([]byte("medledger/replica/v1\n"), RequestSignBytes(method, pathAndQuery, unix, emptySHA256)...)
}

// ReplicaWraps is the body of a replica wraps response: every wrap of a
// blob, by reader key ID.
type ReplicaWraps struct {
	Blob  BlobID            `json:"blob"`
	Wraps map[string][]byte `json:"wraps"`
}
