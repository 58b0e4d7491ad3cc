/* The escaping of printed messages (qs_escape) and table cells (qs_escape_cell, qs_text_columns): byte strings worked
 * out by hand from the UTF-8 rules (RFC 3629): what passes unchanged, what becomes \xNN, how many columns. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/qs_error.h"

START_TEST(test_escape)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"plain 'w.npy': text ~", "plain 'w.npy': text ~"},
		{"tab\there\nnl", "tab\\x09here\\x0anl"},
		{"esc\x1b[31mred\x7f", "esc\\x1b[31mred\\x7f"},
		{"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"}, /* 2, 3, 4 bytes */
		{"\xc2\x80 \xdf\xbf \xef\xbf\xbf \xf4\x8f\xbf\xbf", "\xc2\x80 \xdf\xbf \xef\xbf\xbf \xf4\x8f\xbf\xbf"},
		{"\xc0\xaf", "\\xc0\\xaf"},                  /* overlong '/' */
		{"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},          /* overlong, 3 bytes */
		{"\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"}, /* overlong, 4 bytes */
		{"\xed\xa0\x80", "\\xed\\xa0\\x80"},          /* a UTF-16 surrogate, U+D800 */
		{"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* beyond U+10FFFF */
		{"\xf5\x80", "\\xf5\\x80"},
		{"\xff\xfe", "\\xff\\xfe"},
		{"\x80x", "\\x80x"},                          /* a lone continuation byte */
		{"a\xe2\x82", "a\\xe2\\x82"},                  /* cut short at the end of the string */
		{"\xe2\x82x", "\\xe2\\x82x"},                  /* cut short by an ASCII byte */
		{"\xc3\xc3\xa9", "\\xc3\xc3\xa9"},            /* a lead byte followed by a whole sequence */
		{"", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char got[128];
		qs_escape(cases[i].in, got, sizeof got);
		ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got '%s', want '%s'", i, got, cases[i].want);
	}
}
END_TEST

/* A short buffer cuts before the first character or escape that does not fit whole. */
START_TEST(test_escape_cut)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"abcdef", 4, "abc"}, {"ab\x1b", 6, "ab"}, {"ab\x1b", 7, "ab\\x1b"}, {"a\xe2\x82\xac", 4, "a"},
		{"a\xe2\x82\xac", 5, "a\xe2\x82\xac"}, {"abc", 1, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char got[16];
		memset(got, 'X', sizeof got);
		ck_assert_ptr_eq(qs_escape(cases[i].in, got, cases[i].len), got);
		ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got '%s', want '%s'", i, got, cases[i].want);
	}
}
END_TEST

/* Table cells: exactly `width` columns, counted as a terminal shows them (é one, an escape four, CJK two). */
START_TEST(test_escape_cell)
{
	static const struct {
		const char *in;
		size_t width;
		const char *want;
	} cases[] = {
		{"ab", 4, "ab  "},
		{"abcdef", 4, "abcd"},
		{"\xc3\xa9\xc3\xa9", 3, "\xc3\xa9\xc3\xa9 "},               /* 4 bytes, 2 characters, 1 space */
		{"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3, "\xc3\xa9\xc3\xa9\xc3\xa9"}, /* cut after 3 characters, not 3 bytes */
		{"a\x1b", 4, "a   "},                                /* the escape (4) does not fit in 3 */
		{"a\x1b", 5, "a\\x1b"},
		{"\xf0\x9f\x98\x80x", 3, "\xf0\x9f\x98\x80x"},           /* U+1F600 takes two columns, x one */
		{"\xf0\x9f\x98\x80x", 2, "\xf0\x9f\x98\x80"},
		{"\xe4\xb8\xad\xe6\x96\x87", 3, "\xe4\xb8\xad "},           /* U+4E2D U+6587: the second does not fit */
		{"\xe4\xb8\xad\xe6\x96\x87", 5, "\xe4\xb8\xad\xe6\x96\x87 "},
		{"", 2, "  "},
		{"abc", 0, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char got[64];
		ck_assert_ptr_eq(qs_escape_cell(cases[i].in, cases[i].width, got, sizeof got), got);
		ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got '%s', want '%s'", i, got, cases[i].want);
	}
	char small[4];
	qs_escape_cell("ab", 8, small, sizeof small); /* the buffer, not the width, ends the padding */
	ck_assert_str_eq(small, "ab ");
	char untouched = 'Z'; /* no room at all: nothing written, nothing read (the byte is not a string) */
	qs_escape_cell("ab", 3, &untouched, 0);
	ck_assert_int_eq(untouched, 'Z');
}
END_TEST

START_TEST(test_text_columns)
{
	ck_assert_uint_eq(qs_text_columns(""), 0);
	ck_assert_uint_eq(qs_text_columns("w.npy"), 5);
	ck_assert_uint_eq(qs_text_columns("caf\xc3\xa9 \xe2\x82\xac"), 6);
	ck_assert_uint_eq(qs_text_columns("\xf0\x9f\x98\x80"), 2);               /* U+1F600, an emoji: wide */
	ck_assert_uint_eq(qs_text_columns("\xe4\xb8\xad\xe6\x96\x87"), 4);       /* U+4E2D U+6587, CJK */
	ck_assert_uint_eq(qs_text_columns("\xed\x95\x9c\xef\xbc\xa1"), 4);       /* U+D55C Hangul, U+FF21 full-width A */
	ck_assert_uint_eq(qs_text_columns("\xe2\x86\x90\xe1\x84\x80"), 3);       /* U+2190 arrow (narrow), U+1100 */
	/* range edges, 1 + 2 + 1: U+1160 just past the Hangul Jamo, U+AC00 the first syllable, U+D7A4 past the last */
	ck_assert_uint_eq(qs_text_columns("\xe1\x85\xa0\xea\xb0\x80\xed\x9e\xa4"), 4);
	ck_assert_uint_eq(qs_text_columns("a\\x1b"), 5); /* an escape as printed */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("escape");
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_escape_cut);
	tcase_add_test(tc, test_escape_cell);
	tcase_add_test(tc, test_text_columns);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
