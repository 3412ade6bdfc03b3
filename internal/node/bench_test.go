package node_test

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"time"

	"medledger"
	"medledger/client"
	"medledger/internal/consent"
)

// BenchmarkGatewayRead measures a read of a 10 KB record through the real
// gateway: sign the request, consent check, outbox write (fsync), CheckTx,
// serve, unwrap and decrypt on the client. It reports p50 and p99.
//
//	go test -run '^$' -bench GatewayRead -benchtime 300x ./internal/node/
func BenchmarkGatewayRead(b *testing.B) {
	reg, admin, doc, pat := newSigner(b), newSigner(b), newSigner(b), newSigner(b)
	home := initHome(b, reg)
	n := start(b, home)
	defer n.Close()
	c := client.New(n.APIURL())
	ctx := context.Background()
	must := func(_ *medledger.TxStatus, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(c.Send(ctx, reg.Signer, &client.AdmitOrg{Org: "bench", OrgType: medledger.OrgClinic, Name: "B", Licence: "B", Admin: admin.pub}))
	must(c.Send(ctx, admin.Signer, &client.EnrolMember{Keys: doc.pub, Roles: []medledger.Role{medledger.RolePhysician}}))
	must(c.Send(ctx, pat.Signer, &client.RegisterPatient{Keys: pat.pub}))
	content := bytes.Repeat([]byte("0123456789"), 1024)
	ref, err := c.PutRecord(ctx, doc.user(), pat.ID, content, "Observation", "lab")
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := c.Read(ctx, doc.user(), pat.ID, ref.Record, 0, consent.PurposeTreatment); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}
