/* usage.c - usage lines, usage errors and the option loop every
 * subcommand shares; see cli.h. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Writes text wrapped at width, every line indented by indent. */
void cli_wrap(FILE *out, const char *text, int indent, int first_col, int width)
{
	int col = first_col;
	const char *p = text;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (col > indent && col + 1 + (int)n > width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		}
		if (col < indent) {
			fprintf(out, "%*s", indent - col, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, n, out);
		col += (int)n;
		p += n;
	}
	fputc('\n', out);
}

void cli_usage(FILE *out, const struct cli_command *c)
{
	fprintf(out, "Usage: cuslice %s %s\n\n%s\n", c->name, c->args, c->summary);
	if (c->options != NULL && c->options[0].flags != NULL) {
		fprintf(out, "\nOptions:\n");
		for (const struct cli_option *o = c->options; o->flags != NULL; o++) {
			fprintf(out, "  %s", o->flags);
			cli_wrap(out, o->help, 24, 2 + (int)strlen(o->flags), 79);
		}
	}
	if (c->details != NULL)
		fprintf(out, "\n%s\n", c->details);
}

int cli_usage_error(const struct cli_command *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cuslice %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'cuslice %s --help'.\n", c->name);
	return EXIT_USAGE;
}

int cli_option_error(const struct cli_command *c, int opt, char **argv)
{
	if (opt == ':')
		return cli_usage_error(c, "'%s' needs a value", argv[optind - 1]);
	return cli_usage_error(c, "unknown option '%s'", argv[optind - 1]);
}

int cli_no_operands(const struct cli_command *c, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cli_wants_help(const struct cli_command *c, int argc, char **argv)
{
	/* run parses its own: its options end at the command, whose own
	 * --help is not ours. */
	if (c->own_help)
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_usage(stdout, c);
			return 1;
		}
	}
	return 0;
}

int cli_options(const struct cli_command *c, int argc, char **argv, const struct option *longopts,
		cli_option_fn *on, void *arg)
{
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return cli_option_error(c, opt, argv);
		int rc = on(c, opt, optarg, arg);
		if (rc != 0)
			return rc;
	}
	return cli_no_operands(c, argc, argv) != 0 ? EXIT_USAGE : 0;
}
