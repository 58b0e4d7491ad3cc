/* placeholder: being written */
typedef int qs_placeholder_calib_mse;
