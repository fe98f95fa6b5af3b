/** Exit status of an interrupted run (128 + SIGINT), as shells report one. */
export const EXIT_INTERRUPTED = 130;
