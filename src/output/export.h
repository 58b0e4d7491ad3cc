/* Export writers: the chosen quantization point of each tensor as AIMET/QNN encodings, a TensorRT calibration cache,
 * an ONNX Runtime calibration table, or qscope's own qparams.json + .npy. One table row per format.
 *
 * Conventions (qscope's quantizer: q = clamp(round(x/s) + z, qmin, qmax), x̂ = (q − z)·s, SPEC §1):
 *
 * aimet  -> aimet.encodings, AIMET encoding format 0.6.1:
 *    {"version": "0.6.1", "activation_encodings": {NAME: [ENC]}, "param_encodings": {NAME: [ENC, ...]}}
 *    (activation batch sets in activation_encodings, weights in param_encodings)
 *    ENC = {"bitwidth": b, "dtype": "int", "is_symmetric": "True"|"False", "max", "min", "offset", "scale"}, one per
 *    group (one for per-tensor; per channel in channel order). AIMET's grid is x̂ = (u + offset)·scale with u
 *    unsigned in [0, 2^b − 1] (min = offset·scale, max = (2^b − 1 + offset)·scale, aimet_common quantsim utils).
 *    qscope's q maps to u = q − qmin, so: scale = s, offset = qmin − z, min = (qmin − z)·s, max = (qmax − z)·s.
 *    Signed symmetric: offset = −2^(b−1) exactly as AIMET writes it; unsigned asymmetric: offset = −z. A narrow
 *    range keeps max = (qmax − z)·s, one step below AIMET's own formula (AIMET's "strict symmetric" case).
 *    The optional "quantizer_args" block is left out: settings differ per tensor. group:G points are refused
 *    (0.6.1 has no block-wise encoding).
 *
 * trt    -> trt_calibration.cache: "TRT-8601-EntropyCalibration2" (TensorRT 8.6.1's header) then one line per tensor
 *    "NAME: %08x", the IEEE-754 bits of the float32 scale as an unsigned integer in hex (most significant digit
 *    first), as TensorRT writes it; TensorRT reads dynamic range = scale·127 (int8 symmetric, narrow [−127, 127]).
 *    scale = amax/127 with amax the point's symmetric threshold: symmetric (2^(b−1) − 1)·s (so an 8-bit symmetric
 *    point exports exactly s), asymmetric max(z − qmin, qmax − z)·s. Per-channel/group points: the max of the groups'
 *    amax (TensorRT's cache is per tensor; no group clips more than in qscope, narrower groups lose resolution).
 *
 * ort    -> ort_calibration.json, the JSON flavour of onnxruntime.quantization.quant_utils.write_calibration_table
 *    for a TensorsData cache:
 *    {"CLS": "TensorsData", "data": {NAME: {"lowest": A, "highest": A, "CLS": "TensorData"}},
 *     "calibration_method": {"CLS": "CalibrationMethod", "value": "CalibrationMethod.MinMax"}}
 *    A = {"data": v, "dtype": "float32", "CLS": "numpy.array"}, v a number (per-tensor) or a list (one per group,
 *    as ORT's per-channel calibration writes), values rounded to float32. lowest/highest are the clip range ORT's
 *    compute_scale_zp maps back to this point's (s, z): symmetric ±(2^(b−1) − 1)·s (ORT's symmetric range
 *    [−(2^(b−1)−1), 2^(b−1)−1] gives s back), asymmetric [(qmin − z)·s, (qmax − z)·s] (gives s and z back).
 *
 * qparams -> qparams.json (+ qparams/<tensor>.scale.npy float64 [groups], .zero_point.npy int64 [groups]):
 *    {"format": "qscope-qparams", "version": 1, "tensors": {NAME: {shape, n, bits, signed, range, scheme,
 *    granularity, axis, group_size, ngroups, calib, profile, rounding, pow2, multiplier, rel, rel_clip, rel_round,
 *    sqnr_db (null when inf), eff_bits, qmin, qmax, scale, zero_point}}}; scale/zero_point are numbers for a
 *    per-tensor point and file names relative to qparams.json otherwise. */
#ifndef QS_EXPORT_H
#define QS_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "../recommend/recommend.h"
#include "stage.h"

/* One tensor's chosen point and its per-group qparams (ngroups = 1 for per-tensor points). */
struct qs_export_tensor {
	const struct qs_rec_point *point;  /* name, configuration, metrics */
	size_t ngroups;
	double *scale;                     /* ngroups, owned */
	long *zero_point;                  /* ngroups, owned */
};

struct qs_export_format {
	const char *name;                  /* as given to --to */
	const char *file;                  /* written into the export folder */
	int (*write)(struct qs_stage *st, const char *file, const struct qs_export_tensor *t, size_t n);
};

extern const struct qs_export_format qs_export_formats[];
extern const size_t qs_export_n_formats;

/* The format called `name`, or NULL. */
const struct qs_export_format *qs_export_find(const char *name);

/* Loads a per-tensor point's (s, z) from the point itself (the CSV's scale/zero_point). */
int qs_export_tensor_from_point(const struct qs_rec_point *p, struct qs_export_tensor *t);
/* Loads row `row` of STEM.scale.npy (float64) and STEM.zero_point.npy (int64), both 2-D C-order [rows, groups] as
 * `qscope sweep --save-qparams` writes them. Errors name the file. */
int qs_export_tensor_load(const struct qs_rec_point *p, const char *stem, size_t row, struct qs_export_tensor *t);
void qs_export_tensor_free(struct qs_export_tensor *t);

/* Whether a point's granularity is per-tensor. */
bool qs_export_is_per_tensor(const struct qs_rec_point *p);

/* The point's integer range [qmin, qmax]. */
void qs_export_qrange(const struct qs_rec_point *p, long *qmin, long *qmax);

/* Reads row `row` of a 2-D little-endian float64 ('<f8') or int64 ('<i8') .npy in C order (versions 1-3; a 1-D
 * array is one row).
 * Exactly one of f64/i64 is non-NULL; that array is allocated with *cols entries. */
int qs_export_npy_row(const char *path, size_t row, size_t *cols, double **f64, long **i64);

#endif
