package main

import (
	"flag"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/nvae-go/nvae/model"
)

// configFlags registers one flag per model.Config field, named like the official
// train.py argument (the field's json tag). After parsing, apply copies only the flags
// given on the command line onto a base configuration (a preset).
type configFlags struct {
	fs     *flag.FlagSet
	values map[string]*string
	fields map[string]int
}

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	cf := &configFlags{fs: fs, values: map[string]*string{}, fields: map[string]int{}}
	def := reflect.ValueOf(model.DefaultConfig())
	typ := def.Type()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || fs.Lookup(name) != nil {
			continue
		}
		cf.fields[name] = i
		v := new(string)
		cf.values[name] = v
		usage := fmt.Sprintf("official flag --%s (%s; default from the preset)", name, f.Type.Kind())
		if u, ok := configUsage[name]; ok {
			usage = u
		}
		if f.Type.Kind() == reflect.Bool {
			fs.Func(name, usage, func(s string) error {
				if s == "" {
					s = "true"
				}
				if _, err := strconv.ParseBool(s); err != nil {
					return fmt.Errorf("want true or false, got %q", s)
				}
				*v = s
				return nil
			})
			// allow "--use_se" without a value
			fs.Lookup(name).Value = boolFunc{fs.Lookup(name).Value}
			continue
		}
		fs.Func(name, usage, func(s string) error { *v = s; return nil })
	}
	return cf
}

// boolFunc marks a Func flag as boolean so "--flag" alone means true.
type boolFunc struct{ flag.Value }

func (boolFunc) IsBoolFlag() bool { return true }

// String is safe on the zero value, which flag.PrintDefaults builds to find out
// whether a default is worth printing.
func (b boolFunc) String() string {
	if b.Value == nil {
		return ""
	}
	return b.Value.String()
}

// apply sets the flags given on the command line onto cfg.
func (cf *configFlags) apply(cfg *model.Config) error {
	var err error
	rv := reflect.ValueOf(cfg).Elem()
	cf.fs.Visit(func(f *flag.Flag) {
		i, ok := cf.fields[f.Name]
		if !ok || err != nil {
			return
		}
		s := *cf.values[f.Name]
		fv := rv.Field(i)
		switch fv.Kind() {
		case reflect.Int, reflect.Int64:
			n, e := strconv.ParseInt(s, 10, 64)
			if e != nil {
				err = fmt.Errorf("--%s: want an integer, got %q", f.Name, s)
				return
			}
			fv.SetInt(n)
		case reflect.Float64:
			x, e := strconv.ParseFloat(s, 64)
			if e != nil {
				err = fmt.Errorf("--%s: want a number, got %q", f.Name, s)
				return
			}
			fv.SetFloat(x)
		case reflect.Bool:
			b, _ := strconv.ParseBool(s)
			fv.SetBool(b)
		case reflect.String:
			fv.SetString(s)
		}
	})
	return err
}

// config returns the named preset with the flags given on the command line applied.
func (cf *configFlags) config(preset string) (model.Config, error) {
	cfg, err := model.Preset(preset)
	if err != nil {
		return cfg, err
	}
	return cfg, cf.apply(&cfg)
}
