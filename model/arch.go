package model

// archs are the official --arch_instance recipes (docs/model.md#architecture-recipes): the ops of each cell type.
// res_mbconv9 is absent on purpose: it refers to undefined ops in the official code.
var archs = map[string]map[string][]string{
	"res_mbconv":   recipe(two("res_bnswish"), two("res_bnswish"), one("mconv_e6k5g0"), one("mconv_e3k5g0")),
	"res_elu":      recipe(two("res_elu"), two("res_elu"), two("res_elu"), two("res_elu")),
	"res_bnelu":    recipe(two("res_bnelu"), two("res_bnelu"), two("res_bnelu"), two("res_bnelu")),
	"res_bnswish":  recipe(two("res_bnswish"), two("res_bnswish"), two("res_bnswish"), two("res_bnswish")),
	"mbconv_sep":   recipe(one("mconv_e3k5g0"), one("mconv_e6k5g0"), one("mconv_e6k5g0"), one("mconv_e3k5g0")),
	"mbconv_sep11": recipe(one("mconv_e3k5g0"), one("mconv_e6k11g0"), one("mconv_e6k11g0"), one("mconv_e3k5g0")),
	"res53_mbconv": recipe([]string{"res_bnswish5", "res_bnswish"}, []string{"res_bnswish5", "res_bnswish"}, one("mconv_e6k5g0"), one("mconv_e3k5g0")),
	"res35_mbconv": recipe([]string{"res_bnswish", "res_bnswish5"}, []string{"res_bnswish", "res_bnswish5"}, one("mconv_e6k5g0"), one("mconv_e3k5g0")),
	"res55_mbconv": recipe(two("res_bnswish5"), two("res_bnswish5"), one("mconv_e6k5g0"), one("mconv_e3k5g0")),
	"mbconv_res":   recipe(one("mconv_e3k5g0"), one("mconv_e6k5g0"), two("res_bnswish"), two("res_bnswish")),
	"mbconv_den":   recipe(one("mconv_e3k5g8"), one("mconv_e6k5g0"), one("mconv_e6k5g0"), one("mconv_e3k5g8")),
}

func one(op string) []string { return []string{op} }
func two(op string) []string { return []string{op, op} }

func recipe(pre, enc, dec, post []string) map[string][]string {
	return map[string][]string{
		"normal_pre": pre, "down_pre": pre,
		"normal_enc": enc, "down_enc": enc,
		"normal_dec": dec, "up_dec": dec,
		"normal_post": post, "up_post": post,
	}
}

// irSpec are the inverted-residual ops: expansion, kernel and groups (0 = depthwise).
var irSpec = map[string]struct{ ex, k, g int }{
	"mconv_e6k5g0":  {6, 5, 0},
	"mconv_e3k5g0":  {3, 5, 0},
	"mconv_e3k5g8":  {3, 5, 8},
	"mconv_e6k11g0": {6, 11, 0},
}
