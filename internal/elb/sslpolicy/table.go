package sslpolicy

// Cipher lists shared by several policies, in DescribeSSLPolicies order.
var (
	tls13Suites     = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
	tls13FIPSSuites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}

	// classic is ELBSecurityPolicy-2016-08's list.
	classic = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
		"ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
		"ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA",
		"AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA",
		"AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA",
	}
	// ext2 is classic with the two ECDHE AES256-SHA ciphers swapped, as
	// ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06 lists them.
	ext2 = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
		"ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
		"ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
		"AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA",
		"AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA",
	}
	// fs is the ECDHE part of classic (the FS policies).
	fs = classic[:12]
	// tls12 is ELBSecurityPolicy-TLS-1-2-2017-01's list: classic without
	// the SHA-1 CBC ciphers.
	tls12 = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
		"AES128-GCM-SHA256", "AES128-SHA256", "AES256-GCM-SHA384", "AES256-SHA256",
	}
	// fsRes is ELBSecurityPolicy-FS-1-2-Res-2019-08's list.
	fsRes = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
	}
	// gcm is ELBSecurityPolicy-FS-1-2-Res-2020-10's list.
	gcm = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
	}
)

var (
	v10to12 = []string{TLSv10, TLSv11, TLSv12}
	v11to12 = []string{TLSv11, TLSv12}
	v12     = []string{TLSv12}
	v10to13 = []string{TLSv10, TLSv11, TLSv12, TLSv13}
	v11to13 = []string{TLSv11, TLSv12, TLSv13}
	v12to13 = []string{TLSv12, TLSv13}
	v13     = []string{TLSv13}
)

// table is every policy, built once; Lookup and All hand out copies.
var table = buildTable()

func buildTable() []*Policy {
	type row struct {
		name      string
		protocols []string
		lists     [][]string
	}
	rows := []row{
		{"ELBSecurityPolicy-2016-08", v10to12, [][]string{classic}},
		{"ELBSecurityPolicy-TLS13-1-2-2021-06", v12to13, [][]string{tls13Suites, fsRes}},
		{"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", v12to13, [][]string{tls13Suites, gcm}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", v12to13, [][]string{tls13Suites, tls12}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", v12to13, [][]string{tls13Suites, ext2}},
		{"ELBSecurityPolicy-TLS13-1-1-2021-06", v11to13, [][]string{tls13Suites, classic}},
		{"ELBSecurityPolicy-TLS13-1-0-2021-06", v10to13, [][]string{tls13Suites, classic}},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", v13, [][]string{tls13Suites}},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", v12, [][]string{tls12}},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", v11to12, [][]string{classic}},
		{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", v12, [][]string{classic}},
		{"ELBSecurityPolicy-FS-2018-06", v10to12, [][]string{fs}},
		{"ELBSecurityPolicy-2015-05", v10to12, [][]string{classic}},
		{"ELBSecurityPolicy-TLS-1-0-2015-04", v10to12, [][]string{classic, {"DES-CBC3-SHA"}}},
		{"ELBSecurityPolicy-FS-1-2-Res-2019-08", v12, [][]string{fsRes}},
		{"ELBSecurityPolicy-FS-1-1-2019-08", v11to12, [][]string{fs}},
		{"ELBSecurityPolicy-FS-1-2-2019-08", v12, [][]string{fs}},
		{"ELBSecurityPolicy-FS-1-2-Res-2020-10", v12, [][]string{gcm}},

		{"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", v12to13, [][]string{tls13Suites, gcm}},
		{"ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", v12to13, [][]string{tls13Suites, fsRes}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09", v12to13, [][]string{tls13Suites, tls12}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09", v12to13, [][]string{tls13Suites, ext2}},
		{"ELBSecurityPolicy-TLS13-1-0-PQ-2025-09", v10to13, [][]string{tls13Suites, classic}},
		{"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", v13, [][]string{tls13Suites}},

		{"ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", v13, [][]string{tls13FIPSSuites}},
		{"ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", v12to13, [][]string{tls13FIPSSuites, fsRes}},
		{"ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04", v12to13, [][]string{tls13FIPSSuites, gcm}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04", v12to13, [][]string{tls13FIPSSuites, classic}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04", v12to13, [][]string{tls13FIPSSuites, tls12}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04", v12to13, [][]string{tls13FIPSSuites, fs}},
		{"ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", v11to13, [][]string{tls13FIPSSuites, classic}},
		{"ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04", v10to13, [][]string{tls13FIPSSuites, classic}},

		{"ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09", v13, [][]string{tls13FIPSSuites}},
		{"ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09", v12to13, [][]string{tls13FIPSSuites, fsRes}},
		{"ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09", v12to13, [][]string{tls13FIPSSuites, gcm}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09", v12to13, [][]string{tls13FIPSSuites, classic}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09", v12to13, [][]string{tls13FIPSSuites, tls12}},
		{"ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09", v12to13, [][]string{tls13FIPSSuites, fs}},
		{"ELBSecurityPolicy-TLS13-1-0-FIPS-PQ-2025-09", v10to13, [][]string{tls13FIPSSuites, classic}},
	}
	out := make([]*Policy, 0, len(rows))
	for _, r := range rows {
		p := &Policy{
			Name:                       r.name,
			Protocols:                  r.protocols,
			SupportedLoadBalancerTypes: []string{TypeApplication, TypeNetwork},
		}
		for _, l := range r.lists {
			for _, c := range l {
				p.Ciphers = append(p.Ciphers, Cipher{Name: c, Priority: int32(len(p.Ciphers) + 1)})
			}
		}
		out = append(out, p)
	}
	return out
}
