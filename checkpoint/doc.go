// Package checkpoint reads and writes weight files: safetensors (read and write,
// all common dtypes converted to float32, header order kept) and PyTorch
// checkpoints written by torch.save in the zip format (read only), such as the
// official NVAE train.py checkpoints. WriteFileAtomic is the atomic file writer
// shared with other packages.
//
// Tensors are exchanged as Named values: a name, a row-major shape in the file's
// own layout (PyTorch NCHW / OIHW; conversion to the engine's NHWC / OHWI is the
// caller's job), the stored dtype and the values as float32.
package checkpoint
