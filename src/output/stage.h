/* Atomic output: files are written into a hidden staging folder inside OUT and renamed into place on commit, so a
 * failed run leaves no half-written file behind. */
#ifndef QS_STAGE_H
#define QS_STAGE_H

#include <stdbool.h>
#include <stdio.h>

struct qs_stage;

/* Creates OUT (and its parents) if needed, and a staging folder OUT/.qscope-XXXXXX inside it, locked (flock) while
 * this process lives. Staging folders in OUT that runs killed outright left behind (their lock is free) are removed
 * first, except one holding a commit's backups; qs_stage_note says what was done. */
int qs_stage_open(const char *outdir, struct qs_stage **out);
/* What qs_stage_open did about staging folders left by killed runs, for a note; "" if nothing. */
const char *qs_stage_note(const struct qs_stage *st);
/* Opens relpath (may contain '/') for writing inside the staging folder. */
int qs_stage_fopen(struct qs_stage *st, const char *relpath, FILE **f);
/* Closes a file from qs_stage_fopen, turning write errors into a status. */
int qs_stage_fclose(struct qs_stage *st, FILE *f);
/* Renames every staged file to OUT/relpath (replacing older ones), removes the staging folder, frees st.
 * All or nothing: when a folder stands where a file goes, a file or a broken link where a folder goes, or a folder
 * on the way is on another file system (a link), fails before renaming anything; when a rename fails later (a full
 * or read-only disk), undoes the renames done so far and then fails, with "; the previous results were restored"
 * added to the message. Each file a rename replaces is kept until the commit ends as a hard link in
 * OUT/.qscope-XXXXXX/.old-XXXXXX/ (moved there where hard links fail), so the undo is a rename back; files and folders
 * that were new are removed. A file that cannot be put back is named in the message and left in that folder, as are
 * the replaced files if the process dies during the commit. */
int qs_stage_commit(struct qs_stage *st);
/* Removes the staging folder and what is in it (and OUT itself if this run created it and it is empty); frees st.
 * Accepts NULL. */
void qs_stage_abort(struct qs_stage *st);
const char *qs_stage_outdir(const struct qs_stage *st);

/* For a process about to end on a signal (the CLI's signal thread): removes every open stage as qs_stage_abort does,
 * after a commit in progress has ended, and leaves every stage function blocked from then on. Returns whether there
 * was an open stage. */
bool qs_stage_discard_all(void);

#endif
