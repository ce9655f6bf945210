// Command gen writes the wire name tables of package wire from the
// aws-sdk-go-v2 service packages' own serializers and deserializers.
//
// For the query protocols (awsQuery, ec2Query) it reads serializers.go and
// deserializers.go with go/ast: every `object.Key("Name")` /
// `object.FlatKey("Name")` under `if v.Field ...` gives a request name, every
// `case strings.EqualFold("name", t.Name.Local)` that assigns `sv.Field`
// gives a response name, and the list and map helpers they call give the
// member, entry, key and value names. Only structures reachable from the
// served operations are written.
//
// For the JSON 1.1 services it records the members whose JSON name differs
// from the Go field name: from serializers.go (`object.Key`) for services
// generated with per-operation serializers, and from the schemas package
// (`AddMember("name")`) and the SerializeMembers methods for services
// generated with schema-based serde.
//
// The list of services and operations is the variable services below: the
// single place to change when the local ELB serves another operation.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type protocol int

const (
	awsQuery protocol = iota
	ec2Query
	awsJSON       // serializers.go generated with per-shape functions
	awsJSONSchema // schema-based serde (schemas package + SerializeMembers)
)

type service struct {
	module   string
	protocol protocol
	// ops lists the served operations; nil means every operation of the
	// service.
	ops []string
}

const sdk = "github.com/aws/aws-sdk-go-v2/service/"

// services is the generator's input: every service and operation the local
// ELB serves over a query protocol, and every JSON service.
var services = []service{
	{module: sdk + "elasticloadbalancingv2", protocol: awsQuery},
	{module: sdk + "sts", protocol: awsQuery, ops: []string{"GetCallerIdentity"}},
	{module: sdk + "ec2", protocol: ec2Query, ops: []string{
		"DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeAvailabilityZones",
		"DescribeInternetGateways", "DescribeAccountAttributes", "DescribeSecurityGroups",
		"CreateSecurityGroup", "DeleteSecurityGroup", "AuthorizeSecurityGroupIngress",
		"RevokeSecurityGroupIngress", "CreateTags", "DeleteTags", "DescribeTags",
		"DescribeInstances", "DescribeNetworkInterfaces", "AllocateAddress", "ReleaseAddress",
		"DescribeAddresses", "RunInstances", "TerminateInstances", "DescribeSecurityGroupRules",
		"CreateSubnet", "DeleteSubnet", "CreateNetworkInterface", "DeleteNetworkInterface",
		"AttachNetworkInterface", "DetachNetworkInterface", "AssignPrivateIpAddresses",
		"UnassignPrivateIpAddresses",
	}},
	{module: sdk + "acm", protocol: awsJSONSchema},
	{module: sdk + "resourcegroupstaggingapi", protocol: awsJSONSchema},
	{module: sdk + "wafv2", protocol: awsJSON},
	{module: sdk + "shield", protocol: awsJSON},
}

// coll mirrors wire.Coll (the generator must not import the package it
// writes).
type coll struct {
	Map    bool   `json:",omitempty"`
	Member string `json:",omitempty"`
	Flat   bool   `json:",omitempty"`
	Key    string `json:",omitempty"`
	Value  string `json:",omitempty"`
	Elem   *coll  `json:",omitempty"`
}

type field struct {
	Go        string
	Query     string
	QueryColl *coll
	XML       string
	XMLColl   *coll
}

type structInfo struct {
	fields map[string]*field
	order  []string
}

func (s *structInfo) field(name string) *field {
	if f, ok := s.fields[name]; ok {
		return f
	}
	f := &field{Go: name}
	s.fields[name] = f
	s.order = append(s.order, name)
	return f
}

func main() {
	out := flag.String("out", ".", "directory to write zz_generated.go into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(outDir string) error {
	query := map[string]*structInfo{}
	jsonNames := map[string]map[string]string{}
	for _, svc := range services {
		dir, err := moduleDir(svc.module)
		if err != nil {
			return err
		}
		switch svc.protocol {
		case awsQuery, ec2Query:
			if err := genQuery(svc, dir, query); err != nil {
				return fmt.Errorf("%s: %w", svc.module, err)
			}
		case awsJSON, awsJSONSchema:
			names := map[string]map[string]string{}
			gen := genJSON
			if svc.protocol == awsJSONSchema {
				gen = genJSONSchema
			}
			if err := gen(svc, dir, names); err != nil {
				return fmt.Errorf("%s: %w", svc.module, err)
			}
			reachable, err := reachableTypes(svc.module, dir)
			if err != nil {
				return fmt.Errorf("%s: %w", svc.module, err)
			}
			for k, v := range names {
				if reachable[k] {
					jsonNames[k] = v
				}
			}
		}
	}
	src, err := render(query, jsonNames)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "zz_generated.go"), src, 0o644)
}

func moduleDir(module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	dir := strings.TrimSpace(string(b))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache (go mod download it)", module)
	}
	return dir, nil
}

func parseFile(path string) (*ast.File, error) {
	return parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
}

// ---- query protocols ----

// helper kinds
const (
	kStruct = iota
	kList
	kMap
)

// serFunc is one serializer helper of a query protocol.
type serFunc struct {
	kind    int
	typeKey string // struct: Go type key
	// struct
	fields []serField
	// list / map
	member, key, value string
	elem               string // helper serializing each element, "" for scalars
}

type serField struct {
	goName, name string
	flat         bool
	helper       string
}

// deserFunc is one deserializer helper of a query protocol.
type deserFunc struct {
	kind    int
	typeKey string
	fields  []deserField
	// list: member element name; map: "entry" (wrapped) with key/value in
	// the Unwrapped helper
	member, key, value string
	elem               string
	unwrapped          string // the helper reading one entry / flat item
}

type deserField struct {
	goName, name string
	helper       string
}

func genQuery(svc service, dir string, out map[string]*structInfo) error {
	prefix := "awsAwsquery_"
	if svc.protocol == ec2Query {
		prefix = "awsEc2query_"
	}
	pkgPath := svc.module
	sf, err := parseFile(filepath.Join(dir, "serializers.go"))
	if err != nil {
		return err
	}
	df, err := parseFile(filepath.Join(dir, "deserializers.go"))
	if err != nil {
		return err
	}
	sers := map[string]*serFunc{}
	for _, d := range sf.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, prefix+"serialize") {
			continue
		}
		if f := parseSerFunc(fd, pkgPath); f != nil {
			sers[fd.Name.Name] = f
		}
	}
	desers := map[string]*deserFunc{}
	for _, d := range df.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, prefix+"deserialize") {
			continue
		}
		if f := parseDeserFunc(fd, pkgPath); f != nil {
			desers[fd.Name.Name] = f
		}
	}

	ops := svc.ops
	if ops == nil {
		for name := range sers {
			if op, ok := strings.CutPrefix(name, prefix+"serializeOpDocument"); ok {
				ops = append(ops, strings.TrimSuffix(op, "Input"))
			}
		}
		sort.Strings(ops)
	}
	for _, op := range ops {
		in := prefix + "serializeOpDocument" + op + "Input"
		outFn := prefix + "deserializeOpDocument" + op + "Output"
		_, hasIn := sers[in]
		_, hasOut := desers[outFn]
		if !hasIn && !hasOut {
			return fmt.Errorf("operation %s: neither %s nor %s found", op, in, outFn)
		}
		if hasIn {
			if err := walkSer(in, sers, out, map[string]bool{}); err != nil {
				return fmt.Errorf("operation %s: %w", op, err)
			}
		}
		if hasOut {
			if err := walkDeser(outFn, desers, out, map[string]bool{}); err != nil {
				return fmt.Errorf("operation %s: %w", op, err)
			}
		}
	}
	return nil
}

// typeKeyOf returns the type key of a parameter type such as *types.X,
// **types.X or *XInput.
func typeKeyOf(e ast.Expr, pkgPath string) string {
	for {
		s, ok := e.(*ast.StarExpr)
		if !ok {
			break
		}
		e = s.X
	}
	switch t := e.(type) {
	case *ast.Ident:
		return pkgPath + "." + t.Name
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok && x.Name == "types" {
			return pkgPath + "/types." + t.Sel.Name
		}
	}
	return ""
}

func isSliceOrMap(e ast.Expr) int {
	for {
		s, ok := e.(*ast.StarExpr)
		if !ok {
			break
		}
		e = s.X
	}
	switch t := e.(type) {
	case *ast.ArrayType:
		if t.Len == nil {
			return kList
		}
	case *ast.MapType:
		return kMap
	}
	return kStruct
}

// stringArgs returns the string literal arguments of a call.
func stringArgs(c *ast.CallExpr) []string {
	var out []string
	for _, a := range c.Args {
		if bl, ok := a.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			s, err := strconv.Unquote(bl.Value)
			if err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// methodCall reports whether c is recv.method(...), for the given receiver
// identifier name ("" matches any).
func methodCall(c *ast.CallExpr, recv, method string) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != method {
		return false
	}
	if recv == "" {
		return true
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == recv
}

// helperCall returns the name of a serialize/deserialize helper called by c.
func helperCall(c *ast.CallExpr, marker string) string {
	if id, ok := c.Fun.(*ast.Ident); ok && strings.Contains(id.Name, marker) {
		return id.Name
	}
	return ""
}

// firstSelector returns the field name of the first recv.Field selector in n.
func firstSelector(n ast.Node, recv string) string {
	var name string
	ast.Inspect(n, func(n ast.Node) bool {
		if name != "" {
			return false
		}
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && id.Name == recv {
				name = s.Sel.Name
				return false
			}
		}
		return true
	})
	return name
}

func parseSerFunc(fd *ast.FuncDecl, pkgPath string) *serFunc {
	params := fd.Type.Params.List
	if len(params) != 2 {
		return nil
	}
	kind := isSliceOrMap(params[0].Type)
	f := &serFunc{kind: kind}
	switch kind {
	case kStruct:
		f.typeKey = typeKeyOf(params[0].Type, pkgPath)
		if f.typeKey == "" {
			return nil
		}
		for _, st := range fd.Body.List {
			ifs, ok := st.(*ast.IfStmt)
			if !ok {
				continue
			}
			goName := firstSelector(ifs.Cond, "v")
			if goName == "" {
				continue
			}
			sfld := serField{goName: goName}
			ast.Inspect(ifs.Body, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch {
				case methodCall(c, "object", "Key"), methodCall(c, "object", "FlatKey"):
					if a := stringArgs(c); len(a) == 1 && sfld.name == "" {
						sfld.name = a[0]
						sfld.flat = methodCall(c, "object", "FlatKey")
					}
				default:
					if h := helperCall(c, "_serializeDocument"); h != "" && sfld.helper == "" {
						sfld.helper = h
					}
				}
				return true
			})
			if sfld.name != "" {
				f.fields = append(f.fields, sfld)
			}
		}
	case kList, kMap:
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch {
			case methodCall(c, "value", "Array"):
				if a := stringArgs(c); len(a) == 1 {
					f.member = a[0]
				}
			case methodCall(c, "value", "Map"):
				if a := stringArgs(c); len(a) == 2 {
					f.key, f.value = a[0], a[1]
				}
			default:
				if h := helperCall(c, "_serializeDocument"); h != "" && f.elem == "" {
					f.elem = h
				}
			}
			return true
		})
	}
	return f
}

func walkSer(name string, sers map[string]*serFunc, out map[string]*structInfo, seen map[string]bool) error {
	if seen[name] {
		return nil
	}
	seen[name] = true
	f, ok := sers[name]
	if !ok {
		return fmt.Errorf("serializer %s not found", name)
	}
	switch f.kind {
	case kStruct:
		si := structOf(out, f.typeKey)
		for _, fl := range f.fields {
			d := si.field(fl.goName)
			d.Query = fl.name
			if fl.helper != "" {
				c, err := serColl(fl.helper, sers)
				if err != nil {
					return err
				}
				if c != nil {
					c.Flat = fl.flat
				}
				d.QueryColl = c
				if err := walkSer(fl.helper, sers, out, seen); err != nil {
					return err
				}
			}
		}
	case kList, kMap:
		if f.elem != "" {
			return walkSer(f.elem, sers, out, seen)
		}
	}
	return nil
}

// serColl returns the collection layout a helper writes, nil for structs.
func serColl(name string, sers map[string]*serFunc) (*coll, error) {
	f, ok := sers[name]
	if !ok {
		return nil, fmt.Errorf("serializer %s not found", name)
	}
	var c *coll
	switch f.kind {
	case kStruct:
		return nil, nil
	case kList:
		if f.member == "" {
			return nil, fmt.Errorf("list serializer %s: no Array(member) call", name)
		}
		c = &coll{Member: f.member}
	case kMap:
		if f.key == "" {
			return nil, fmt.Errorf("map serializer %s: no Map(key, value) call", name)
		}
		c = &coll{Map: true, Key: f.key, Value: f.value}
	}
	if f.elem != "" {
		e, err := serColl(f.elem, sers)
		if err != nil {
			return nil, err
		}
		c.Elem = e
	}
	return c, nil
}

func structOf(out map[string]*structInfo, key string) *structInfo {
	si, ok := out[key]
	if !ok {
		si = &structInfo{fields: map[string]*field{}}
		out[key] = si
	}
	return si
}

// caseName returns the element name of `case strings.EqualFold("name", ...)`.
func caseName(cc *ast.CaseClause) string {
	if len(cc.List) != 1 {
		return ""
	}
	c, ok := cc.List[0].(*ast.CallExpr)
	if !ok || !methodCall(c, "strings", "EqualFold") {
		return ""
	}
	if a := stringArgs(c); len(a) == 1 {
		return a[0]
	}
	return ""
}

// assignedSelector returns the Field of the first `sv.Field = ...` or
// `&sv.Field` in n.
func assignedSelector(n ast.Node) string {
	var name string
	ast.Inspect(n, func(n ast.Node) bool {
		if name != "" {
			return false
		}
		switch x := n.(type) {
		case *ast.AssignStmt:
			for _, l := range x.Lhs {
				if s, ok := l.(*ast.SelectorExpr); ok {
					if id, ok := s.X.(*ast.Ident); ok && id.Name == "sv" {
						name = s.Sel.Name
						return false
					}
				}
			}
		case *ast.UnaryExpr:
			if x.Op == token.AND {
				if s, ok := x.X.(*ast.SelectorExpr); ok {
					if id, ok := s.X.(*ast.Ident); ok && id.Name == "sv" {
						name = s.Sel.Name
						return false
					}
				}
			}
		}
		return true
	})
	return name
}

func firstHelper(n ast.Node, marker string) string {
	var h string
	ast.Inspect(n, func(n ast.Node) bool {
		if h != "" {
			return false
		}
		if c, ok := n.(*ast.CallExpr); ok {
			h = helperCall(c, marker)
		}
		return true
	})
	return h
}

func parseDeserFunc(fd *ast.FuncDecl, pkgPath string) *deserFunc {
	params := fd.Type.Params.List
	if len(params) != 2 {
		return nil
	}
	// error deserializers take (response, metadata) or (errorBody,...)
	kind := isSliceOrMap(params[0].Type)
	f := &deserFunc{kind: kind}
	if kind == kStruct {
		f.typeKey = typeKeyOf(params[0].Type, pkgPath)
		if f.typeKey == "" {
			return nil
		}
	}
	type clause struct{ name, helper, goName string }
	var clauses []clause
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok {
			return true
		}
		body := &ast.BlockStmt{List: cc.Body}
		clauses = append(clauses, clause{name: caseName(cc), helper: firstHelper(body, "_deserializeDocument"), goName: assignedSelector(body)})
		return false
	})
	unwrapped := strings.HasSuffix(fd.Name.Name, "Unwrapped")
	switch {
	case kind == kStruct:
		for _, c := range clauses {
			if c.name != "" && c.goName != "" {
				f.fields = append(f.fields, deserField{goName: c.goName, name: c.name, helper: c.helper})
			}
		}
	case kind == kList:
		for _, c := range clauses {
			if unwrapped || c.name != "" {
				f.member, f.elem = c.name, c.helper
				break
			}
		}
	case kind == kMap && !unwrapped:
		for _, c := range clauses {
			if c.name != "" {
				f.member, f.unwrapped = c.name, c.helper
				break
			}
		}
	case kind == kMap && unwrapped:
		var named []clause
		for _, c := range clauses {
			if c.name != "" {
				named = append(named, c)
			}
		}
		if len(named) == 2 {
			f.key, f.value, f.elem = named[0].name, named[1].name, named[1].helper
		}
	}
	return f
}

func walkDeser(name string, desers map[string]*deserFunc, out map[string]*structInfo, seen map[string]bool) error {
	if seen[name] {
		return nil
	}
	seen[name] = true
	f, ok := desers[name]
	if !ok {
		return fmt.Errorf("deserializer %s not found", name)
	}
	switch f.kind {
	case kStruct:
		si := structOf(out, f.typeKey)
		for _, fl := range f.fields {
			d := si.field(fl.goName)
			d.XML = fl.name
			if fl.helper != "" {
				c, err := deserColl(fl.helper, desers)
				if err != nil {
					return err
				}
				d.XMLColl = c
				if err := walkDeser(fl.helper, desers, out, seen); err != nil {
					return err
				}
			}
		}
	case kList, kMap:
		elem := f.elem
		if f.kind == kMap && f.unwrapped != "" {
			if err := walkDeser(f.unwrapped, desers, out, seen); err != nil {
				return err
			}
			if u := desers[f.unwrapped]; u != nil {
				elem = u.elem
			}
		}
		if elem != "" {
			return walkDeser(elem, desers, out, seen)
		}
	}
	return nil
}

// deserColl returns the collection layout a helper reads, nil for structs.
func deserColl(name string, desers map[string]*deserFunc) (*coll, error) {
	f, ok := desers[name]
	if !ok {
		return nil, fmt.Errorf("deserializer %s not found", name)
	}
	flat := strings.HasSuffix(name, "Unwrapped")
	var c *coll
	elem := f.elem
	switch f.kind {
	case kStruct:
		return nil, nil
	case kList:
		c = &coll{Member: f.member, Flat: flat}
		if flat {
			// an Unwrapped list helper reads one item: the element itself
			c.Member = ""
		} else if f.member == "" {
			return nil, fmt.Errorf("list deserializer %s: no member case", name)
		}
	case kMap:
		e := f
		if !flat {
			if f.unwrapped == "" {
				return nil, fmt.Errorf("map deserializer %s: no entry case", name)
			}
			e = desers[f.unwrapped]
			if e == nil {
				return nil, fmt.Errorf("map deserializer %s: %s not found", name, f.unwrapped)
			}
		}
		c = &coll{Map: true, Flat: flat, Key: e.key, Value: e.value}
		elem = e.elem
	}
	if elem != "" {
		ec, err := deserColl(elem, desers)
		if err != nil {
			return nil, err
		}
		c.Elem = ec
	}
	return c, nil
}

// ---- JSON ----

func genJSON(svc service, dir string, out map[string]map[string]string) error {
	prefix := "awsAwsjson11_"
	sf, err := parseFile(filepath.Join(dir, "serializers.go"))
	if err != nil {
		return err
	}
	df, err := parseFile(filepath.Join(dir, "deserializers.go"))
	if err != nil {
		return err
	}
	add := func(typeKey, goName, name string) error {
		if goName == name {
			return nil
		}
		m, ok := out[typeKey]
		if !ok {
			m = map[string]string{}
			out[typeKey] = m
		}
		if prev, ok := m[goName]; ok && prev != name {
			return fmt.Errorf("%s.%s is both %q and %q", typeKey, goName, prev, name)
		}
		m[goName] = name
		return nil
	}
	for _, d := range sf.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, prefix+"serialize") || len(fd.Type.Params.List) != 2 {
			continue
		}
		if isSliceOrMap(fd.Type.Params.List[0].Type) != kStruct {
			continue
		}
		key := typeKeyOf(fd.Type.Params.List[0].Type, svc.module)
		if key == "" {
			continue
		}
		for _, st := range fd.Body.List {
			ifs, ok := st.(*ast.IfStmt)
			if !ok {
				continue
			}
			goName := firstSelector(ifs.Cond, "v")
			var name string
			ast.Inspect(ifs.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok && methodCall(c, "object", "Key") && name == "" {
					if a := stringArgs(c); len(a) == 1 {
						name = a[0]
					}
				}
				return name == ""
			})
			if goName != "" && name != "" {
				if err := add(key, goName, name); err != nil {
					return err
				}
			}
		}
	}
	for _, d := range df.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, prefix+"deserialize") || len(fd.Type.Params.List) != 2 {
			continue
		}
		if isSliceOrMap(fd.Type.Params.List[0].Type) != kStruct {
			continue
		}
		key := typeKeyOf(fd.Type.Params.List[0].Type, svc.module)
		if key == "" {
			continue
		}
		var ferr error
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok || len(cc.List) != 1 {
				return true
			}
			bl, ok := cc.List[0].(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				return true
			}
			name, err := strconv.Unquote(bl.Value)
			if err != nil {
				return false
			}
			if goName := assignedSelector(&ast.BlockStmt{List: cc.Body}); goName != "" && ferr == nil {
				ferr = add(key, goName, name)
			}
			return false
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

func genJSONSchema(svc service, dir string, out map[string]map[string]string) error {
	sf, err := parseFile(filepath.Join(dir, "schemas", "schemas.go"))
	if err != nil {
		return err
	}
	// schema variable -> member name, from `X = Y.AddMember("name", ...)`
	members := map[string]string{}
	ast.Inspect(sf, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		id, ok := as.Lhs[0].(*ast.Ident)
		if !ok {
			return true
		}
		c, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok || !methodCall(c, "", "AddMember") {
			return true
		}
		if a := stringArgs(c); len(a) >= 1 {
			members[id.Name] = a[0]
		}
		return true
	})
	var files []string
	for _, pattern := range []string{filepath.Join(dir, "api_op_*.go"), filepath.Join(dir, "types", "*.go")} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	for _, path := range files {
		f, err := parseFile(path)
		if err != nil {
			return err
		}
		pkg := svc.module
		if filepath.Base(filepath.Dir(path)) == "types" {
			pkg += "/types"
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Name.Name != "SerializeMembers" {
				continue
			}
			recv := fd.Recv.List[0].Type
			if s, ok := recv.(*ast.StarExpr); ok {
				recv = s.X
			}
			rid, ok := recv.(*ast.Ident)
			if !ok {
				continue
			}
			key := pkg + "." + rid.Name
			for _, st := range fd.Body.List {
				ifs, ok := st.(*ast.IfStmt)
				if !ok {
					continue
				}
				goName := firstSelector(ifs.Cond, "v")
				var schemaVar string
				ast.Inspect(ifs.Body, func(n ast.Node) bool {
					if s, ok := n.(*ast.SelectorExpr); ok && schemaVar == "" {
						if id, ok := s.X.(*ast.Ident); ok && id.Name == "schemas" {
							schemaVar = s.Sel.Name
						}
					}
					return schemaVar == ""
				})
				name, ok := members[schemaVar]
				if goName == "" || !ok {
					continue
				}
				if goName != name {
					m, ok := out[key]
					if !ok {
						m = map[string]string{}
						out[key] = m
					}
					m[goName] = name
				}
			}
		}
	}
	return nil
}

// reachableTypes returns the keys of the struct types reachable from the
// operations' Input and Output structs, following the Go declarations of
// the package and its types package (error shapes are not reachable).
func reachableTypes(module, dir string) (map[string]bool, error) {
	decls := map[string]*ast.StructType{}
	var roots []string
	for _, sub := range []string{"", "types"} {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*.go"))
		if err != nil {
			return nil, err
		}
		pkg := module
		if sub != "" {
			pkg += "/" + sub
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parseFile(path)
			if err != nil {
				return nil, err
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, sp := range gd.Specs {
					ts := sp.(*ast.TypeSpec)
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					key := pkg + "." + ts.Name.Name
					decls[key] = st
					if sub == "" && (strings.HasSuffix(ts.Name.Name, "Input") || strings.HasSuffix(ts.Name.Name, "Output")) {
						roots = append(roots, key)
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	var walk func(key string)
	walk = func(key string) {
		st, ok := decls[key]
		if !ok || seen[key] {
			return
		}
		seen[key] = true
		pkg := key[:strings.LastIndex(key, ".")]
		for _, fld := range st.Fields.List {
			ast.Inspect(fld.Type, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && id.Name == "types" {
						walk(module + "/types." + x.Sel.Name)
					}
					return false
				case *ast.Ident:
					walk(pkg + "." + x.Name)
				}
				return true
			})
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return seen, nil
}

// ---- output ----

func render(query map[string]*structInfo, jsonNames map[string]map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/elb/api/wire/gen from the aws-sdk-go-v2 service packages; DO NOT EDIT.\n\n")
	b.WriteString("package wire\n\n")
	b.WriteString("var queryStructs = map[string]*Struct{\n")
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		si := query[k]
		names := append([]string(nil), si.order...)
		sort.Strings(names)
		fmt.Fprintf(&b, "\t%q: {Fields: []Field{\n", k)
		for _, n := range names {
			f := si.fields[n]
			fmt.Fprintf(&b, "\t\t{Go: %q", f.Go)
			if f.Query != "" {
				fmt.Fprintf(&b, ", Query: %q", f.Query)
			}
			if f.QueryColl != nil {
				fmt.Fprintf(&b, ", QueryColl: %s", collLit(f.QueryColl))
			}
			if f.XML != "" {
				fmt.Fprintf(&b, ", XML: %q", f.XML)
			}
			if f.XMLColl != nil {
				fmt.Fprintf(&b, ", XMLColl: %s", collLit(f.XMLColl))
			}
			b.WriteString("},\n")
		}
		b.WriteString("\t}},\n")
	}
	b.WriteString("}\n\n")
	b.WriteString("var jsonNames = map[string]map[string]string{\n")
	keys = keys[:0]
	for k := range jsonNames {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%q: {", k)
		fs := make([]string, 0, len(jsonNames[k]))
		for f := range jsonNames[k] {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		for i, f := range fs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %q", f, jsonNames[k][f])
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated source: %w", err)
	}
	return src, nil
}

func collLit(c *coll) string {
	if c == nil {
		return "nil"
	}
	var parts []string
	if c.Map {
		parts = append(parts, "Map: true")
	}
	if c.Member != "" {
		parts = append(parts, "Member: "+strconv.Quote(c.Member))
	}
	if c.Flat {
		parts = append(parts, "Flat: true")
	}
	if c.Key != "" {
		parts = append(parts, "Key: "+strconv.Quote(c.Key))
	}
	if c.Value != "" {
		parts = append(parts, "Value: "+strconv.Quote(c.Value))
	}
	if c.Elem != nil {
		parts = append(parts, "Elem: "+collLit(c.Elem))
	}
	return "&Coll{" + strings.Join(parts, ", ") + "}"
}
