// Package tensorfile reads and writes files of named tensors: safetensors (read
// and write, all common dtypes converted to float32, header order kept) and the
// zip archives that torch.save writes (read only), such as the official NVAE
// train.py checkpoint.pt. It knows file formats only, not models: which tensors
// make up a model and how a model is stored is package modelfile's business.
//
// Tensors are exchanged as Named values: a name, a row-major shape in the file's
// own layout (PyTorch NCHW / OIHW; conversion to the engine's NHWC / OHWI is the
// caller's job), the stored dtype and the values as float32.
package tensorfile
