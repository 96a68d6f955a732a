from leaderboard.page_method import method_page

method_page()
