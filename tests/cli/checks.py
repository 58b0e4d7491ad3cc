"""The tally every CLI test keeps: one line per check, then the closing `N passed, M failed` line."""
passed = 0
failed = 0


def check(ok, what, detail=""):
    """Records one check; returns ok."""
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))
    return ok


def summary():
    """Prints the closing line; returns the exit status (0 iff every check passed)."""
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
