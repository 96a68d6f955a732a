from leaderboard.views import progress_page

progress_page()
