from leaderboard.views import compare_page

compare_page()
