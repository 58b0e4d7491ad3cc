/* OUT/recommend.csv: per tensor and configuration the best calibrator/multiplier, and the recommended one. */
#ifndef QS_RECOMMEND_CSV_H
#define QS_RECOMMEND_CSV_H

#include <stdio.h>

#include "../recommend/recommend.h"

void qs_recommend_csv_write(FILE *f, const struct qs_recommendation *rec);
/* "clip" or "round": the larger of the two error parts at a point. */
const char *qs_rec_dominant(const struct qs_rec_point *p);

#endif
