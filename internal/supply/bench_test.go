package supply_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"medledger"
	"medledger/internal/store"
	"medledger/internal/supply"
)

// The supply benchmarks run the real ledger over the real IAVL-on-Pebble
// store, one block per batch of txs, committed (fsync) as a node does.
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/supply/

const (
	benchGTIN = "09506000134352"
	benchLot  = "L1"
)

func benchUnit(i int) string { return fmt.Sprintf("urn:epc:id:sgtin:9506000.013435.%07d", i) }

// rig returns a harness over a fresh Pebble-backed store with a
// manufacturer, a distributor and a registered product.
func rig(b *testing.B) *harness {
	st, err := store.Open(b.TempDir(), store.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h := newHarness(st)
	h.genesis(b)
	h.admit(b, "acme-pharma", medledger.OrgManufacturer, "ann:admin+logistics+quality")
	h.admit(b, "coldco", medledger.OrgDistributor, "cara:admin+logistics")
	h.mustOK(b, "ann", &supply.RegisterProduct{GTIN: benchGTIN, CompanyPrefix: "9506000", Name: "Vaccine", TempMin: 200, TempMax: 800, ShelfLifeDays: 365})
	h.commit(b)
	return h
}

// commission commissions n units in txs of supply.MaxCommission, one block
// each.
func commission(b *testing.B, h *harness, n int) {
	for done := 0; done < n; done += supply.MaxCommission {
		count := min(supply.MaxCommission, n-done)
		h.mustOK(b, "ann", &supply.Commission{GTIN: benchGTIN, Lot: benchLot, Expiry: "2027-01-31",
			Range: &supply.SerialRange{Start: uint64(done), Count: uint32(count), Width: 7}})
		h.commit(b)
		h.time += 5
	}
}

// BenchmarkCommission100k commissions 100,000 serials: ten txs of 10,000,
// each in its own committed block.
func BenchmarkCommission100k(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := rig(b)
		b.StartTimer()
		start := time.Now()
		commission(b, h, 100_000)
		total += time.Since(start)
	}
	b.ReportMetric(float64(100_000*b.N)/total.Seconds(), "serials/s")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/100k")
}

// BenchmarkVerifyAt100k verifies packs among 100,000 commissioned units,
// some packed in cases and shipped: the answer alone, and with the ICS-23
// proof of every key it read.
func BenchmarkVerifyAt100k(b *testing.B) {
	h := rig(b)
	commission(b, h, 100_000)
	// 100 cases of 10 units, shipped and received, so that verification
	// walks containers and a shipment.
	for c := 0; c < 100; c++ {
		var kids []string
		for u := 0; u < 10; u++ {
			kids = append(kids, benchUnit(c*10+u))
		}
		h.mustOK(b, "ann", &supply.Aggregate{Parent: fmt.Sprintf("urn:epc:id:sscc:9506000.%010d", c), Children: kids})
	}
	var cases []string
	for c := 0; c < 100; c++ {
		cases = append(cases, fmt.Sprintf("urn:epc:id:sscc:9506000.%010d", c))
	}
	h.mustOK(b, "ann", &supply.Ship{Shipment: "S1", To: "coldco", EPCs: cases})
	h.mustOK(b, "cara", &supply.Receive{Shipment: "S1"})
	h.commit(b)
	st := h.store.(*store.Store)
	ver := st.Version()
	rd, err := st.ReaderAt(ver)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		unit func(i int) string
	}{
		{"loose", func(i int) string { return benchUnit(1000 + i%99000) }},
		{"packed-shipped", func(i int) string { return benchUnit(i % 1000) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				v, err := supply.Verify(rd, tc.unit(i), h.time)
				if err != nil || v.Status == supply.VerifyUnknown {
					b.Fatalf("%v %+v", err, v)
				}
			}
		})
		b.Run(tc.name+"-proven", func(b *testing.B) {
			keys := 0
			for i := 0; i < b.N; i++ {
				v, err := supply.Verify(rd, tc.unit(i), h.time)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range v.Keys {
					if _, _, err := st.Prove(k, ver); err != nil {
						b.Fatal(err)
					}
				}
				keys += len(v.Keys)
			}
			b.ReportMetric(float64(keys)/float64(b.N), "proofs/op")
		})
	}
}

// BenchmarkReadings ingests signed reading batches: 500 devices on 500
// shipments, each batch an hour of readings every 5 minutes (12), relayed
// unordered, 500 batches per block. Each batch costs the node two Ed25519
// verifications (the relay's tx and the device's batch) and two writes.
func BenchmarkReadings(b *testing.B) {
	const devices = 500
	h := rig(b)
	commission(b, h, devices)
	keys := make([]ed25519.PrivateKey, devices)
	for d := 0; d < devices; d++ {
		keys[d] = signingKey(fmt.Sprintf("logger-%d", d))
		id := fmt.Sprintf("logger-%d", d)
		h.mustOK(b, "cara", &supply.RegisterDevice{Device: id, Key: keys[d].Public().(ed25519.PublicKey)})
		h.mustOK(b, "ann", &supply.Ship{Shipment: fmt.Sprintf("S%d", d), To: "coldco", EPCs: []string{benchUnit(d)}})
		h.mustOK(b, "cara", &supply.AttachDevice{Device: id, Shipment: fmt.Sprintf("S%d", d)})
	}
	h.commit(b)
	b.ResetTimer()
	readings := 0
	for i := 0; i < b.N; i++ {
		// The devices sign; that is not the node's work.
		b.StopTimer()
		h.time += 3600
		batches := make([]*supply.Readings, devices)
		for d := range batches {
			m := &supply.Readings{Device: fmt.Sprintf("logger-%d", d), Shipment: fmt.Sprintf("S%d", d), Seq: uint64(i + 1)}
			for r := 0; r < 12; r++ {
				m.Readings = append(m.Readings, supply.Reading{Time: h.time - 3600 + int64(r+1)*300, Temp: int32(400 + (r*37+d)%500)})
			}
			m.Signature = ed25519.Sign(keys[d], m.SignedBytes(chainID))
			batches[d] = m
		}
		b.StartTimer()
		for _, m := range batches {
			if res, _ := h.send(b, "cara", m, true); !res.OK() {
				b.Fatal(res.Log)
			}
			readings += len(m.Readings)
		}
		h.commit(b)
	}
	b.ReportMetric(float64(readings)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(b.N*devices)/b.Elapsed().Seconds(), "batches/s")
}
