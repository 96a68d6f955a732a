from leaderboard.views import leaderboard_page

leaderboard_page()
