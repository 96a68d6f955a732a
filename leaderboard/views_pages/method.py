from leaderboard.views import method_page

method_page()
