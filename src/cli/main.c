/* qscope's entry point: a table of subcommands, each a function that returns the exit status. */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cli.h"
#include "qs_config.h"
#include "util/qs_error.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"export", qs_cli_export, "write recommended qparams for AIMET/QNN, TensorRT, ONNX Runtime, or as JSON + .npy"},
	{"inspect", qs_cli_inspect, "per-tensor statistics (range, moments, outliers, per-channel spread)"},
	{"plot", qs_cli_plot, "re-render the charts of a sweep folder from its CSVs (gnuplot)"},
	{"recommend", qs_cli_recommend, "recommend settings from an existing sweep.csv (no re-sweep)"},
	{"simulate", qs_cli_simulate, "run a layer or a small network in float and quantized; output error, top-1"},
	{"sweep", qs_cli_sweep, "quantize under every setting asked for; clipping and rounding error to CSV"},
};

static void print_help(FILE *f)
{
	fprintf(f, "usage: qscope [--version] [--help] <command> [options] FILE...\n\n"
		   "qscope measures what quantization does to neural-network tensors: the clipping error and the\n"
		   "rounding error of every scale, bit width, granularity and scheme, and which settings to use.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'qscope <command> --help' describes a command's options.\n"
		   "Exit status: 0 ok, 1 data or I/O error, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	gsl_set_error_handler_off();
	qs_cli_catch_signals(); /* an interrupted run leaves no staging folder (without the thread: as before) */
	if (argc < 2) {
		fprintf(stderr, "usage: qscope <export|inspect|plot|recommend|simulate|sweep> [options] FILE...   "
				"(qscope --help for more)\n");
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("qscope %s\n", QS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	qs_eprintf("qscope: unknown command '%s'", argv[1]);
	fprintf(stderr, "usage: qscope <export|inspect|plot|recommend|simulate|sweep> [options] FILE...   "
			"(qscope --help for more)\n");
	return 2;
}
