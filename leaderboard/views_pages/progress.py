from leaderboard.page_progress import progress_page

progress_page()
