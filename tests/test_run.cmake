# Read by ctest at the start of every run (a TEST_INCLUDE_FILES entry): marks
# the run. Every test inherits COLONY_TEST_RUN, an id new at each run, and
# with it every process a test starts; the session names the suite chooses
# carry it too (tests/support/test_session.hpp). COLONY_TEST_RUN_STARTED is
# when the run began, in seconds since the epoch. check_no_leftovers.sh finds
# by them what this run left, and nothing of a run beside it.
string(RANDOM LENGTH 10 ALPHABET "0123456789abcdefghijklmnopqrstuvwxyz" colony_test_run)
set(ENV{COLONY_TEST_RUN} "${colony_test_run}")
string(TIMESTAMP colony_test_run_started "%s" UTC)
set(ENV{COLONY_TEST_RUN_STARTED} "${colony_test_run_started}")
